// A Docusaurus site whose docs pages use the nnlens elements: src/nnlens.js, a client module,
// defines them in the browser; the model and the digit are in static/.
export default {
  title: "nnlens in Docusaurus",
  url: "http://localhost",
  baseUrl: "/",
  future: { v4: true, faster: true },
  presets: [["classic", { docs: { routeBasePath: "/", sidebarPath: false }, blog: false }]],
  clientModules: ["./src/nnlens.js"],
};
