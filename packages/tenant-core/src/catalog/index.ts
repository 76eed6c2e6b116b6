export * from './search.ts';
export * from './replies.ts';
export * from './import.ts';
