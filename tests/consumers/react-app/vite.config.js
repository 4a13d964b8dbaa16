// JSX compiled by Vite's built-in esbuild with React's automatic runtime: no React plugin needed.
export default {
  esbuild: { jsx: "automatic" },
  build: { target: "es2022" },
};
