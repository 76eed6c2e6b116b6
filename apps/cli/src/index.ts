export { run } from './run.ts';
export { buildProgram } from './program.ts';
export type { CliIo } from './context.ts';
