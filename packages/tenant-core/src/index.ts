export * from './errors.ts';
export * from './config.ts';
export * from './logger.ts';
export * from './db.ts';
export * from './secrets.ts';
export * from './migrate.ts';
export * from './queues.ts';
export * from './tenant-events.ts';
