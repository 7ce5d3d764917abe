import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The console is served by the engine at /console (src/http/routes/console-routes.ts), built into
// web/dist. `npm run build:console` builds it; `npm start` and the e2e tests build it when stale.
// In development, `npx vite web` serves it with hot reload and forwards the API to a running engine.
export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // A store tablet on a shop's Wi-Fi: a warning when one chunk grows past this (React alone is ~190 kB raw).
    chunkSizeWarningLimit: 260,
  },
  server: {
    proxy: { '/v1': 'http://127.0.0.1:3000' },
  },
});
