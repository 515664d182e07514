import { defineConfig } from 'tsup';

// One self-contained bundle for the broker: every JavaScript dependency is inlined, so the packaged broker
// needs only node, this file and koffi. koffi stays external because its loader finds the native binary
// (`@koromix/koffi-<platform>`) next to its own files; scripts/package.mjs ships it as node_modules beside
// the bundle. The metafile names the packages actually bundled, for the third-party notices.
export default defineConfig({
  entry: { 'broker/cli': 'broker/src/cli.ts' },
  outDir: 'dist',
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  clean: false,
  splitting: false,
  metafile: true,
  noExternal: [/^(?!koffi$)/],
  // CommonJS dependencies (vscode-jsonrpc) call require() for Node built-ins, which an ES module lacks.
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __winshostCreateRequire } from 'node:module';\nconst require = __winshostCreateRequire(import.meta.url);",
  },
});
