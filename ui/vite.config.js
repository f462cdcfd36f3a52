// SPDX-License-Identifier: Apache-2.0
// Builds ui/ into the folder given by LANNER_UI_OUT (CMake passes <build>/ui/dist); lanner embeds
// the result (gateway/ui_assets.cmake) and serves it under /ui/ with relative asset paths.
import { defineConfig } from 'vite';

export default defineConfig({
	base: './',
	logLevel: 'warn',
	build: {
		outDir: process.env.LANNER_UI_OUT || 'dist',
		emptyOutDir: true,
		assetsDir: 'assets',
		target: 'es2020',
		modulePreload: false,
		reportCompressedSize: false,
	},
});
