// Two pages, the JavaScript and the TypeScript variant, built together.
export default {
  build: {
    target: "es2022",
    rollupOptions: { input: { main: "index.html", ts: "ts.html" } },
  },
};
