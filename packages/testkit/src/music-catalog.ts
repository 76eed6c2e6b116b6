/**
 * A seeded, deterministic music-shop catalog (the first tenant is a music shop in Nairobi) for
 * catalog tests, the demo and the benchmark. The first rows are fixed products that tests name
 * ("Yamaha P-45", "Shure SM58", …); the rest are generated from per-category templates with a
 * seeded PRNG, with model codes of three or four digits so they never collide with the fixed ones.
 * Rows have the shape `importCatalog` takes.
 */

export interface MusicCatalogVariant {
  sku: string;
  name: string;
  price?: number;
  stock?: number;
}

export interface MusicCatalogRow {
  sku: string;
  name: string;
  description: string;
  category: string;
  brand: string;
  price: number;
  currency: string;
  stock: number;
  imageUrl: string;
  variants: MusicCatalogVariant[];
}

type Fixed = [sku: string, name: string, category: string, brand: string, price: number, stock: number, description: string, variants?: MusicCatalogVariant[]];

// Categories name the kind of instrument in words customers use ("guitar", "keyboard", "drum").
const FIXED: Fixed[] = [
  ['AG-F310', 'Yamaha F310 Acoustic Guitar', 'Acoustic Guitars', 'Yamaha', 18500, 7, 'Full-size dreadnought acoustic guitar, spruce top, ideal for beginners.'],
  ['AG-FG800', 'Yamaha FG800 Acoustic Guitar', 'Acoustic Guitars', 'Yamaha', 32000, 4, 'Solid spruce top acoustic guitar with a warm, balanced tone.'],
  ['AG-CD60S', 'Fender CD-60S Dreadnought Acoustic Guitar', 'Acoustic Guitars', 'Fender', 27000, 3, 'Solid mahogany top dreadnought, easy-to-play neck.'],
  ['AG-DR100', 'Epiphone DR-100 Acoustic Guitar', 'Acoustic Guitars', 'Epiphone', 16500, 0, 'Affordable square-shoulder dreadnought acoustic guitar.'],
  ['AG-GSMINI', 'Taylor GS Mini Acoustic Guitar', 'Acoustic Guitars', 'Taylor', 95000, 1, 'Compact travel-size acoustic guitar with a big voice.'],
  ['AG-C40', 'Yamaha C40 Classical Guitar', 'Classical Guitars', 'Yamaha', 12500, 10, 'Nylon-string classical guitar for students.'],
  ['EG-STRAT', 'Squier Classic Vibe Stratocaster', 'Electric Guitars', 'Fender', 65000, 2, 'Electric guitar with three single-coil pickups and a tremolo.'],
  ['EG-LPSTD', 'Gibson Les Paul Standard', 'Electric Guitars', 'Gibson', 350000, 0, 'Mahogany body electric guitar with humbuckers; the classic rock tone.'],
  ['EG-LPSPII', 'Epiphone Les Paul Special II', 'Electric Guitars', 'Epiphone', 28000, 5, 'Entry-level Les Paul style electric guitar.'],
  ['EG-PAC112', 'Yamaha Pacifica 112V Electric Guitar', 'Electric Guitars', 'Yamaha', 38000, 6, 'Versatile electric guitar with HSS pickups.'],
  ['EG-GRX70', 'Ibanez GRX70QA Electric Guitar', 'Electric Guitars', 'Ibanez', 26000, 4, 'Quilted maple art top electric guitar.'],
  ['BG-PBASS', 'Fender Player Precision Bass', 'Bass Guitars', 'Fender', 120000, 2, 'Four-string electric bass guitar with a split-coil pickup.'],
  ['BG-GSR200', 'Ibanez GSR200 Bass Guitar', 'Bass Guitars', 'Ibanez', 34000, 3, 'Lightweight four-string bass with active EQ.'],
  ['KB-PSRE373', 'Yamaha PSR-E373 Portable Keyboard', 'Keyboards', 'Yamaha', 38500, 8, '61-key portable keyboard with touch-sensitive keys and 622 voices.'],
  ['KB-CTS300', 'Casio CT-S300 Keyboard', 'Keyboards', 'Casio', 21000, 12, '61-key Casiotone keyboard, battery powered, with lessons.'],
  ['KB-CTX700', 'Casio CT-X700 Keyboard', 'Keyboards', 'Casio', 29500, 0, '61-key keyboard with 600 tones and a sampler.'],
  ['KB-EX50', 'Roland E-X50 Arranger Keyboard', 'Keyboards', 'Roland', 62000, 2, '61-key arranger keyboard with built-in speakers.'],
  ['KB-KROSS2', 'Korg Kross 2 Synthesizer Workstation', 'Synthesizers', 'Korg', 145000, 1, '61-key synthesizer workstation with sequencer.'],
  ['DP-P45', 'Yamaha P-45 Digital Piano', 'Digital Pianos', 'Yamaha', 75000, 3, '88 weighted keys digital piano with GHS action; comes with a sustain pedal.'],
  ['DP-P125', 'Yamaha P-125 Digital Piano', 'Digital Pianos', 'Yamaha', 110000, 2, '88-key portable digital piano with Pure CF sound.'],
  ['DP-CDPS110', 'Casio CDP-S110 Digital Piano', 'Digital Pianos', 'Casio', 58000, 4, 'Slim 88-key digital piano with scaled hammer action.'],
  ['DP-FP10', 'Roland FP-10 Digital Piano', 'Digital Pianos', 'Roland', 82000, 0, '88-key digital piano with PHA-4 keyboard and Bluetooth.'],
  ['DR-RYDEEN', 'Yamaha Rydeen 5-Piece Drum Kit', 'Drums', 'Yamaha', 98000, 2, 'Complete acoustic drum set with hardware and cymbals.'],
  ['DR-ROADSHOW', 'Pearl Roadshow Drum Set', 'Drums', 'Pearl', 89000, 1, 'Five-piece drum kit with stands, throne and cymbals.'],
  ['DR-NITRO', 'Alesis Nitro Mesh Electronic Drum Kit', 'Drums', 'Alesis', 56000, 3, 'Eight-piece electronic drum set with mesh heads.'],
  ['DR-TD07', 'Roland TD-07KV V-Drums', 'Drums', 'Roland', 165000, 0, 'Electronic drum kit with mesh pads and Bluetooth audio.'],
  ['DR-DJEMBE', 'African Djembe Drum 12 inch', 'Drums', 'Kassangas', 6500, 9, 'Hand-carved djembe hand drum with goat-skin head.'],
  ['DR-CAJON', 'Meinl Headliner Cajon', 'Drums', 'Meinl', 14500, 4, 'Box drum cajon with snare wires.'],
  ['DR-STICKS5A', 'Vic Firth 5A Drumsticks', 'Drum Accessories', 'Vic Firth', 1500, 30, 'American classic hickory drumsticks.', [
    { sku: 'DR-STICKS5A-7A', name: '7A Drumsticks', price: 1500, stock: 12 },
    { sku: 'DR-STICKS5A-5B', name: '5B Drumsticks', price: 1600, stock: 8 },
  ]],
  ['DR-THRONE', 'Pearl D-50 Drum Throne', 'Drum Accessories', 'Pearl', 7500, 5, 'Padded drum stool, height adjustable.'],
  ['CY-ACUSTOM16', 'Zildjian A Custom 16" Crash Cymbal', 'Cymbals', 'Zildjian', 42000, 2, 'Bright, shimmering crash cymbal.'],
  ['CY-B8XHH', 'Sabian B8X 14" Hi-Hat Cymbals', 'Cymbals', 'Sabian', 18000, 3, 'Pair of hi-hat cymbals for practice and gigs.'],
  ['CY-HCSSET', 'Meinl HCS Cymbal Set', 'Cymbals', 'Meinl', 16000, 0, 'Hi-hat, crash and ride cymbal pack.'],
  ['MIC-SM58', 'Shure SM58 Vocal Microphone', 'Microphones', 'Shure', 18000, 15, 'The legendary dynamic vocal microphone for stage.'],
  ['MIC-SM57', 'Shure SM57 Instrument Microphone', 'Microphones', 'Shure', 17000, 6, 'Dynamic microphone for guitar amps and snare drums.'],
  ['MIC-AT2020', 'Audio-Technica AT2020 Condenser Microphone', 'Microphones', 'Audio-Technica', 15500, 4, 'Studio condenser microphone for recording vocals.'],
  ['MIC-XM8500', 'Behringer XM8500 Dynamic Microphone', 'Microphones', 'Behringer', 3500, 25, 'Budget cardioid vocal microphone.'],
  ['MIC-NT1', 'Rode NT1 Studio Microphone', 'Microphones', 'Rode', 38000, 0, 'Ultra-low noise large-diaphragm condenser microphone.'],
  ['AMP-FM10G', 'Fender Frontman 10G Guitar Amplifier', 'Amplifiers', 'Fender', 9500, 6, '10-watt practice amp for electric guitar.'],
  ['AMP-KATANA50', 'Boss Katana 50 MkII Guitar Amplifier', 'Amplifiers', 'Boss', 48000, 3, '50-watt combo amplifier with effects.'],
  ['AMP-MG15', 'Marshall MG15GFX Amplifier', 'Amplifiers', 'Marshall', 23000, 0, '15-watt guitar amp with digital effects.'],
  ['AMP-RUMBLE40', 'Fender Rumble 40 Bass Amplifier', 'Amplifiers', 'Fender', 39000, 2, '40-watt bass amp combo.'],
  ['CAB-INST10', 'Fender 10ft Instrument Cable', 'Cables', 'Fender', 1200, 40, 'Quarter-inch jack guitar cable, 3 metres.'],
  ['CAB-XLR5', 'XLR Microphone Cable 5m', 'Cables', 'Proel', 800, 50, 'Balanced XLR lead for microphones.'],
  ['STR-SLINKY', 'Ernie Ball Regular Slinky Electric Guitar Strings', 'Strings', 'Ernie Ball', 1000, 60, 'Nickel wound strings, gauge 10-46.', [
    { sku: 'STR-SLINKY-SUPER', name: 'Super Slinky 9-42', price: 1000, stock: 20 },
    { sku: 'STR-SLINKY-POWER', name: 'Power Slinky 11-48', price: 1100, stock: 0 },
  ]],
  ['STR-EXP16', "D'Addario EXP16 Acoustic Guitar Strings", 'Strings', "D'Addario", 1800, 35, 'Coated phosphor bronze acoustic strings, light gauge.'],
  ['STR-EJ27N', "D'Addario EJ27N Classical Guitar Strings", 'Strings', "D'Addario", 1300, 20, 'Nylon strings for classical guitar, normal tension.'],
  ['STR-BASS', 'Ernie Ball Regular Slinky Bass Strings', 'Strings', 'Ernie Ball', 3800, 10, 'Four-string bass guitar strings 50-105.'],
  ['UK-KA15S', 'Kala KA-15S Soprano Ukulele', 'Ukuleles', 'Kala', 6500, 8, 'Mahogany soprano ukulele with a satin finish.'],
  ['UK-U30', 'Mahalo U-30 Ukulele', 'Ukuleles', 'Mahalo', 4000, 14, 'Colourful beginner ukulele.', [
    { sku: 'UK-U30-RED', name: 'Red', stock: 5 },
    { sku: 'UK-U30-BLUE', name: 'Blue', stock: 0 },
  ]],
  ['VN-STENTOR', 'Stentor Student I Violin', 'Violins', 'Stentor', 22000, 5, 'Student violin outfit with bow, rosin and case.', [
    { sku: 'VN-STENTOR-34', name: '3/4 size', price: 21000, stock: 2 },
    { sku: 'VN-STENTOR-12', name: '1/2 size', price: 20000, stock: 1 },
  ]],
  ['VN-V3SKA', 'Yamaha V3SKA Violin', 'Violins', 'Yamaha', 45000, 0, 'Solid spruce violin outfit for advancing players.'],
  ['SX-YAS280', 'Yamaha YAS-280 Alto Saxophone', 'Wind Instruments', 'Yamaha', 185000, 1, 'Student alto sax with case.'],
  ['WD-YRS23', 'Yamaha YRS-23 Soprano Recorder', 'Wind Instruments', 'Yamaha', 800, 45, 'School recorder, baroque fingering.'],
  ['AC-CAPO', 'Kyser Quick-Change Guitar Capo', 'Accessories', 'Kyser', 2500, 18, 'Spring-loaded capo for six-string guitars.'],
  ['AC-STRAP', 'Leather Guitar Strap', 'Accessories', 'Kassangas', 1800, 22, 'Adjustable brown leather strap.'],
  ['AC-PICKS', 'Dunlop Tortex Picks 12-Pack', 'Accessories', 'Dunlop', 500, 80, 'Guitar picks, assorted gauges.'],
  ['AC-TUNER', 'Snark SN-5 Clip-On Tuner', 'Accessories', 'Snark', 2200, 16, 'Chromatic tuner for guitar, bass and ukulele.'],
  ['AC-KBSTAND', 'X-Style Keyboard Stand', 'Accessories', 'On-Stage', 3500, 9, 'Double-braced stand for keyboards and digital pianos.'],
  ['AC-FC5', 'Yamaha FC5 Sustain Pedal', 'Accessories', 'Yamaha', 2800, 11, 'Sustain pedal for keyboards and digital pianos.'],
  ['AC-ATHM20', 'Audio-Technica ATH-M20x Headphones', 'Accessories', 'Audio-Technica', 9000, 7, 'Closed-back studio monitor headphones.'],
  ['AC-GIGBAG', 'Padded Acoustic Guitar Gig Bag', 'Accessories', 'Kassangas', 3000, 13, 'Water-resistant guitar bag with backpack straps.'],
  ['PA-EON610', 'JBL EON610 Powered Speaker', 'PA & Speakers', 'JBL', 115000, 2, '1000-watt active PA loudspeaker.'],
  ['PA-XENYX802', 'Behringer Xenyx 802 Mixer', 'PA & Speakers', 'Behringer', 9500, 5, '8-input analog mixer for small gigs.'],
];

interface Template {
  category: string;
  noun: string;
  brands: string[];
  min: number;
  max: number;
  words: string[];
  description: string;
}

const TEMPLATES: Template[] = [
  { category: 'Acoustic Guitars', noun: 'Acoustic Guitar', brands: ['Yamaha', 'Fender', 'Cort', 'Ibanez', 'Epiphone', 'Takamine'], min: 9000, max: 160000, words: ['Dreadnought', 'Concert', 'Jumbo', 'Parlor', 'Cutaway'], description: 'Six-string steel acoustic guitar.' },
  { category: 'Electric Guitars', noun: 'Electric Guitar', brands: ['Fender', 'Ibanez', 'Jackson', 'ESP', 'Schecter', 'Yamaha'], min: 18000, max: 300000, words: ['Standard', 'Classic', 'Modern', 'Custom', 'Special'], description: 'Solid-body electric guitar.' },
  { category: 'Bass Guitars', noun: 'Bass Guitar', brands: ['Fender', 'Ibanez', 'Yamaha', 'Cort'], min: 25000, max: 220000, words: ['Four-String', 'Five-String', 'Active', 'Short-Scale'], description: 'Electric bass guitar.' },
  { category: 'Classical Guitars', noun: 'Classical Guitar', brands: ['Yamaha', 'Cordoba', 'Admira'], min: 8000, max: 90000, words: ['Student', 'Nylon', 'Flamenco'], description: 'Nylon-string classical guitar.' },
  { category: 'Keyboards', noun: 'Keyboard', brands: ['Yamaha', 'Casio', 'Roland', 'Korg'], min: 12000, max: 180000, words: ['Portable', 'Arranger', '61-Key', '76-Key'], description: 'Keyboard with built-in rhythms and voices.' },
  { category: 'Digital Pianos', noun: 'Digital Piano', brands: ['Yamaha', 'Casio', 'Roland', 'Kawai', 'Korg'], min: 45000, max: 340000, words: ['Console', 'Portable', 'Stage', 'Upright'], description: '88 weighted keys digital piano.' },
  { category: 'Drums', noun: 'Drum Kit', brands: ['Pearl', 'Tama', 'Mapex', 'Ludwig', 'Alesis'], min: 30000, max: 250000, words: ['Fusion', 'Rock', 'Jazz', 'Electronic'], description: 'Drum set with shells and hardware.' },
  { category: 'Cymbals', noun: 'Cymbal', brands: ['Zildjian', 'Sabian', 'Meinl', 'Paiste'], min: 6000, max: 60000, words: ['Crash', 'Ride', 'Splash', 'China'], description: 'Bronze cymbal for drum kits.' },
  { category: 'Microphones', noun: 'Microphone', brands: ['Shure', 'AKG', 'Sennheiser', 'Behringer', 'Audio-Technica'], min: 2500, max: 90000, words: ['Vocal', 'Condenser', 'Dynamic', 'Wireless'], description: 'Microphone for stage and studio.' },
  { category: 'Amplifiers', noun: 'Amplifier', brands: ['Fender', 'Marshall', 'Orange', 'Laney', 'Peavey'], min: 8000, max: 160000, words: ['Guitar', 'Bass', 'Keyboard', 'Combo'], description: 'Combo amplifier with clean and drive channels.' },
  { category: 'Cables', noun: 'Cable', brands: ['Proel', 'Fender', 'Planet Waves'], min: 500, max: 4500, words: ['Instrument', 'XLR', 'Patch', 'Speaker'], description: 'Cable with metal connectors.' },
  { category: 'Strings', noun: 'Strings', brands: ["D'Addario", 'Ernie Ball', 'Elixir', 'Martin'], min: 700, max: 6000, words: ['Acoustic', 'Electric', 'Bass', 'Classical'], description: 'Set of replacement strings.' },
  { category: 'Ukuleles', noun: 'Ukulele', brands: ['Kala', 'Mahalo', 'Lanikai'], min: 3500, max: 30000, words: ['Soprano', 'Concert', 'Tenor'], description: 'Four-string ukulele.' },
  { category: 'Violins', noun: 'Violin', brands: ['Stentor', 'Yamaha', 'Cecilio'], min: 12000, max: 150000, words: ['Student', 'Advanced', 'Electric'], description: 'Violin outfit with bow and case.' },
  { category: 'Accessories', noun: 'Music Stand', brands: ['On-Stage', 'Hercules', 'K&M'], min: 1500, max: 9000, words: ['Folding', 'Orchestra', 'Desk'], description: 'Sturdy stand for sheet music.' },
];

const LETTERS = 'ABCDEFGHJKLMNPRSTVWXZ';

/** mulberry32: a tiny seeded PRNG, enough for fixtures. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const imageUrl = (sku: string) => `https://images.example.com/music/${sku.toLowerCase()}.jpg`;

/** `n` products (the fixed ones first, at most all of them when n is smaller), KES prices 500–350,000. */
export function musicShopCatalog(n = 200, seed = 1): MusicCatalogRow[] {
  const rows: MusicCatalogRow[] = FIXED.slice(0, n).map(([sku, name, category, brand, price, stock, description, variants]) => ({
    sku,
    name,
    description,
    category,
    brand,
    price,
    currency: 'KES',
    stock,
    imageUrl: imageUrl(sku),
    variants: variants ?? [],
  }));
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const names = new Set(rows.map((r) => r.name));
  let i = 0;
  while (rows.length < n) {
    i++;
    const t = TEMPLATES[i % TEMPLATES.length] as Template;
    const brand = pick(t.brands);
    const model = `${pick(LETTERS.split(''))}${pick(LETTERS.split(''))}-${100 + Math.floor(rand() * 9900)}`;
    const name = `${brand} ${model} ${pick(t.words)} ${t.noun}`;
    if (names.has(name)) continue;
    names.add(name);
    // log-uniform prices look like a shop's: many cheap items, few expensive ones; round to 50
    const price = Math.round(Math.exp(Math.log(t.min) + rand() * (Math.log(t.max) - Math.log(t.min))) / 50) * 50;
    const sku = `GEN-${String(i).padStart(5, '0')}`;
    rows.push({
      sku,
      name,
      description: `${t.description} ${brand} quality, sold with a one-year warranty.`,
      category: t.category,
      brand,
      price,
      currency: 'KES',
      stock: rand() < 0.12 ? 0 : 1 + Math.floor(rand() * 20),
      imageUrl: imageUrl(sku),
      variants: [],
    });
  }
  return rows;
}
