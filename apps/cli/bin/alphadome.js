#!/usr/bin/env node
// The operator CLI. TypeScript source run through tsx, so there is no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
