import { Command, Option } from 'commander';
import { templateKinds } from '@alphadome/tenant-core';
import { CliContext, type CliIo } from './context.ts';
import { catalogImport, catalogSearch } from './commands/catalog.ts';
import { registerConversationCommands } from './commands/conversation.ts';
import { faqAdd, faqDelete, faqImport, faqList } from './commands/faq.ts';
import { keysRotate } from './commands/keys.ts';
import { migrateCommand } from './commands/migrate.ts';
import { templateAdd, templateDelete, templateList } from './commands/template.ts';
import { tenantCreate, tenantList, tenantSetActive, tenantSetCredentials, tenantShow, tenantUpdate } from './commands/tenant.ts';
import { userCreate, userSetPassword } from './commands/user.ts';

/**
 * The command tree. Each leaf takes `--json`; its action gets a CliContext built for that run
 * (handed back through `onContext` so the caller can close it whatever happens).
 */
export function buildProgram(io: CliIo, onContext: (ctx: CliContext) => void): Command {
  const program = new Command('alphadome')
    .description('Operator CLI of the Alphadome WhatsApp bot platform. Secrets are read from files (- for stdin), never from arguments.')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout(s),
      writeErr: (s) => io.stderr(s),
      // the caller prints errors as one `alphadome: …` line
      outputError: () => {},
    })
    .showSuggestionAfterError(true)
    .helpCommand(false);

  const leaf = (parent: Command, name: string, description: string) =>
    parent.command(name).description(description).option('--json', 'print one JSON document instead of text');

  /** Wrap an action: build the context from the leaf's own options, then run. */
  function act<A extends unknown[]>(fn: (ctx: CliContext, ...args: A) => Promise<void>) {
    return async (...args: unknown[]) => {
      const cmd = args[args.length - 1] as Command;
      const ctx = new CliContext(io, { json: Boolean(cmd.opts().json) });
      onContext(ctx);
      await fn(ctx, ...(args.slice(0, -1) as A));
    };
  }

  leaf(program, 'migrate', 'apply the SQL migrations (idempotent; encrypts legacy plaintext credentials)').action(
    act(async (ctx) => migrateCommand(ctx)),
  );

  // tenant
  const tenant = program.command('tenant').description('create, configure, enable and disable tenants');
  leaf(tenant, 'create', 'create a tenant (a business with its own WhatsApp number)')
    .requiredOption('--slug <slug>', 'short name: lowercase letters, digits, hyphens')
    .requiredOption('--name <name>', "the business's name")
    .requiredOption('--phone-number-id <id>', "Meta's phone number id of the tenant's WhatsApp number")
    .option('--waba-id <id>', 'WhatsApp Business Account id')
    .option('--display-phone <e164>', 'the number as customers see it, e.g. +254702245555')
    .option('--own-meta-app', 'the tenant brings its own Meta app (webhook /webhooks/whatsapp/<slug>)')
    .option('--platform', "this is the platform's own number (the default brand)")
    .option('--coexistence', 'the number is also used in the WhatsApp Business app (lower send rate)')
    .option('--currency <code>', 'ISO 4217 currency (default KES)')
    .option('--timezone <zone>', 'IANA time zone (default Africa/Nairobi)')
    .option('--model <name>', 'LLM model (default: the platform default)')
    .action(act((ctx, o: Parameters<typeof tenantCreate>[1]) => tenantCreate(ctx, o)));

  leaf(tenant, 'set-credentials', "store a tenant's WhatsApp token, Meta app secret or OpenAI key (encrypted)")
    .argument('<slug>')
    .option('--whatsapp-token-file <file>', 'file holding the WhatsApp access token (- for stdin)')
    .option('--app-secret-file <file>', "file holding the tenant's own Meta app secret (- for stdin)")
    .option('--openai-key-file <file>', "file holding the tenant's own OpenAI key (- for stdin)")
    .option('--token-expires-at <iso>', 'when the WhatsApp token expires, e.g. 2027-01-31T00:00:00Z')
    .action(act((ctx, slug: string, o: Parameters<typeof tenantSetCredentials>[2]) => tenantSetCredentials(ctx, slug, o)));

  leaf(tenant, 'list', 'list every tenant').action(act((ctx) => tenantList(ctx)));
  leaf(tenant, 'show', "show a tenant's settings, which secrets it has (never their values) and recent changes")
    .argument('<slug>')
    .action(act((ctx, slug: string) => tenantShow(ctx, slug)));
  leaf(tenant, 'enable', 'route and answer the tenant’s messages again')
    .argument('<slug>')
    .action(act((ctx, slug: string) => tenantSetActive(ctx, slug, true)));
  leaf(tenant, 'disable', "stop handling the tenant's messages (webhooks are still acknowledged)")
    .argument('<slug>')
    .action(act((ctx, slug: string) => tenantSetActive(ctx, slug, false)));
  leaf(tenant, 'update', "change a tenant's details and bot settings (an empty value clears an optional one)")
    .argument('<slug>')
    .option('--name <name>', "the business's name")
    .option('--display-phone <e164>', 'the number as customers see it')
    .option('--phone-number-id <id>', "Meta's phone number id (routing)")
    .option('--waba-id <id>', 'WhatsApp Business Account id')
    .option('--send-rate <n>', 'messages per second to Meta for this number (default 80)')
    .option('--debounce-ms <n>', 'wait this long for more messages before answering (default 2000)')
    .option('--escalation-phone <e164>', 'who is alerted when a customer needs a person')
    .option('--escalation-email <email>', 'who is e-mailed when a customer needs a person')
    .option('--system-prompt-file <file>', 'the LLM system prompt, from a file (- for stdin)')
    .option('--fallback-message <text>', 'reply when no answer is found')
    .option('--handover-message <text>', 'reply when a person takes over')
    .option('--away-message <text>', 'reply outside business hours')
    .option('--model <name>', 'LLM model')
    .option('--currency <code>', 'ISO 4217 currency')
    .option('--timezone <zone>', 'IANA time zone')
    .addOption(new Option('--bot <state>', 'answer automatically').choices(['on', 'off']))
    .action(act((ctx, slug: string, o: Parameters<typeof tenantUpdate>[2]) => tenantUpdate(ctx, slug, o)));

  // faq
  const faq = program.command('faq').description("manage a tenant's FAQ (what the bot answers from)");
  leaf(faq, 'add', 'add one question and answer')
    .argument('<slug>')
    .requiredOption('--question <text>', 'the question as customers ask it')
    .requiredOption('--answer <text>', 'the answer')
    .option('--language <code>', 'language code (default en)')
    .action(act((ctx, slug: string, o: Parameters<typeof faqAdd>[2]) => faqAdd(ctx, slug, o)));
  leaf(faq, 'import', 'import FAQ entries from CSV (header question,answer[,language]) or JSON ([{question, answer, language?}])')
    .argument('<slug>')
    .argument('<file>', 'FILE.csv or FILE.json')
    .option('--replace', "delete the tenant's other FAQ entries in the same transaction")
    .action(act((ctx, slug: string, file: string, o: { replace?: boolean }) => faqImport(ctx, slug, file, o)));
  leaf(faq, 'list', "list a tenant's FAQ entries")
    .argument('<slug>')
    .option('--language <code>', 'only this language')
    .action(act((ctx, slug: string, o: { language?: string }) => faqList(ctx, slug, o)));
  leaf(faq, 'delete', 'delete one FAQ entry by id')
    .argument('<slug>')
    .argument('<id>')
    .action(act((ctx, slug: string, id: string) => faqDelete(ctx, slug, id)));

  // catalog
  const catalog = program.command('catalog').description("a tenant's products: what the bot shows when customers ask for them");
  leaf(catalog, 'import', 'import products from CSV (header sku,name,description,category,brand,price,currency,stock,image_url[,variant_…]) or JSON')
    .argument('<slug>')
    .argument('<file>', 'FILE.csv or FILE.json (- for stdin)')
    .action(act((ctx, slug: string, file: string) => catalogImport(ctx, slug, file)));
  leaf(catalog, 'search', 'show what a customer asking QUERY would be offered')
    .argument('<slug>')
    .argument('<query>')
    .action(act((ctx, slug: string, query: string) => catalogSearch(ctx, slug, query)));

  // template
  const template = program.command('template').description('canned replies and named messages (fallback, away, handover, …)');
  leaf(template, 'add', 'add a template, or replace the one with the same name and language')
    .argument('<slug>')
    .requiredOption('--name <name>', 'name, e.g. hours')
    .option('--triggers <list>', 'comma-separated words or phrases that trigger a canned reply, e.g. "hours,open,saa ngapi"')
    .option('--body <text>', 'the reply text')
    .option('--body-file <file>', 'the reply text, from a file (- for stdin)')
    .addOption(new Option('--kind <kind>', 'what it is for (default canned)').choices([...templateKinds]))
    .option('--language <code>', 'language code (default en)')
    .action(act((ctx, slug: string, o: Parameters<typeof templateAdd>[2]) => templateAdd(ctx, slug, o)));
  leaf(template, 'list', "list a tenant's templates")
    .argument('<slug>')
    .action(act((ctx, slug: string) => templateList(ctx, slug)));
  leaf(template, 'delete', 'delete a template')
    .argument('<slug>')
    .requiredOption('--name <name>', 'name')
    .option('--language <code>', 'language code (default en)')
    .action(act((ctx, slug: string, o: { name: string; language?: string }) => templateDelete(ctx, slug, o)));

  // user
  const user = program.command('user').description('dashboard accounts');
  leaf(user, 'create', 'create a dashboard account')
    .requiredOption('--email <email>', 'sign-in e-mail')
    .addOption(new Option('--role <role>', 'owner (one tenant) or operator (the platform)').choices(['owner', 'operator']).makeOptionMandatory())
    .option('--tenant <slug>', "the owner's tenant")
    .requiredOption('--password-file <file>', 'file holding the initial password (- for stdin)')
    .action(act((ctx, o: Parameters<typeof userCreate>[1]) => userCreate(ctx, o)));
  leaf(user, 'set-password', "reset an account's password (signs out its sessions)")
    .requiredOption('--email <email>', 'sign-in e-mail')
    .requiredOption('--password-file <file>', 'file holding the new password (- for stdin)')
    .action(act((ctx, o: Parameters<typeof userSetPassword>[1]) => userSetPassword(ctx, o)));

  registerConversationCommands(program, leaf, act);

  // keys
  const keys = program.command('keys').description('encryption keys of tenant secrets');
  leaf(keys, 'rotate', 're-seal every secret under the first key of ENCRYPTION_KEYS').action(act((ctx) => keysRotate(ctx)));

  return program;
}
