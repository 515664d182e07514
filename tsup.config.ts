import { defineConfig } from 'tsup';

// One bundle for the broker; runtime dependencies (koffi's native binary among them) stay external.
export default defineConfig({
  entry: { 'broker/cli': 'broker/src/cli.ts' },
  outDir: 'dist',
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  clean: false,
  splitting: false,
  banner: { js: '#!/usr/bin/env node' },
});
