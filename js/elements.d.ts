// Types of nnlens/elements (elements.js): the element classes, their events, and the tag names
// for `document.createElement` and `querySelector`.

/** The events every nnlens element dispatches (neither bubbles: listen on the element). */
export interface NnlensElementEventMap extends Omit<HTMLElementEventMap, "error"> {
  /** The element has drawn (after each drawing). */
  load: CustomEvent<null>;
  /** The element could not draw; the message is also shown in place of the drawing. */
  error: CustomEvent<{ message: string }>;
}

/** What every nnlens element shares: an open shadow root, redraws on attribute and width changes, drawing near the viewport only, `load` and `error` events. */
declare abstract class NnlensElement extends HTMLElement {
  addEventListener<K extends keyof NnlensElementEventMap>(
    type: K,
    listener: (this: this, event: NnlensElementEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof NnlensElementEventMap>(
    type: K,
    listener: (this: this, event: NnlensElementEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | EventListenerOptions): void;
}

/** `<nnlens-activations src input layer colormap>`: a layer's activations (every layer without `layer`). */
export declare class NnlensActivations extends NnlensElement {}

/** `<nnlens-prediction src input>`: the model's outputs as a bar chart, or the top 5 above 20 classes. */
export declare class NnlensPrediction extends NnlensElement {}

/** `<nnlens-heatmap src colormap min max>`: a precomputed `.npy`, `.safetensors#name` or `.json` array as a heatmap. */
export declare class NnlensHeatmap extends NnlensElement {}

/** `<nnlens-saliency src input method target steps rule samples noise variant abs layer upsample window logits opacity>`: an attribution map beside the input, and overlaid. */
export declare class NnlensSaliency extends NnlensElement {}

/** `<nnlens-architecture src>`: the model's layers with operation, output shape and parameters. */
export declare class NnlensArchitecture extends NnlensElement {}

/** `<nnlens-projection data labels method src layer>`: a PCA or t-SNE scatter of saved rows or of a layer's outputs. */
export declare class NnlensProjection extends NnlensElement {}

/** `<nnlens-pad brush>`: a drawing pad that dispatches `input` when the drawing changes. */
export declare class NnlensPad extends HTMLElement {
  /** The pad's 280 x 280 canvas, white ink on black. */
  readonly canvas: HTMLCanvasElement;
  /** Wipes the pad (and dispatches `input`). */
  clear(): void;
}

declare global {
  interface HTMLElementTagNameMap {
    "nnlens-activations": NnlensActivations;
    "nnlens-prediction": NnlensPrediction;
    "nnlens-heatmap": NnlensHeatmap;
    "nnlens-saliency": NnlensSaliency;
    "nnlens-architecture": NnlensArchitecture;
    "nnlens-projection": NnlensProjection;
    "nnlens-pad": NnlensPad;
  }
}
