// Preloaded into the fuzzed ingress (test only, with --expose-gc): SIGUSR2 runs a full garbage
// collection, so the fuzz suite's memory check compares what the process still holds, not how
// much garbage V8 happened not to have collected yet.
process.on('SIGUSR2', () => globalThis.gc?.());
