/**
 * The ingress benchmark's baseline: a bare Fastify 5 route answering 200 to the same POST
 * (Fastify's default JSON body parsing, no logging). Run as its own process; prints
 * `listening <port>` once it accepts connections.
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false, bodyLimit: 3 * 1024 * 1024 });
app.post('/webhooks/whatsapp', async (_request, reply) => reply.code(200).type('text/plain').send('EVENT_RECEIVED'));
const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`listening ${new URL(address).port}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
