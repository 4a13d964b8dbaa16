// nnlens elements rendered by a React component: a button switches the `input` attribute of both
// elements (React sets it, the elements redraw), and the prediction's `load`/`error` events, which
// do not bubble, are listened to on the element through a ref.
import { useEffect, useRef, useState } from "react";
// Imported for its side effect: it defines the <nnlens-*> elements.
import "nnlens/elements";

const digits = ["./digit-0.json", "./digit-1.json"];

export function App() {
  const [digit, setDigit] = useState(0);
  const [loads, setLoads] = useState(0);
  const [error, setError] = useState("");
  const prediction = useRef(null);

  useEffect(() => {
    const element = prediction.current;
    const onLoad = () => setLoads((n) => n + 1);
    const onError = (event) => setError(event.detail.message);
    element.addEventListener("load", onLoad);
    element.addEventListener("error", onError);
    return () => {
      element.removeEventListener("load", onLoad);
      element.removeEventListener("error", onError);
    };
  }, []);

  return (
    <main>
      <button type="button" onClick={() => setDigit((d) => (d + 1) % digits.length)}>
        Next digit
      </button>
      <p id="status" data-loads={loads}>
        {error ? `Error: ${error}` : `Digit ${digit}, load events: ${loads}`}
      </p>
      <nnlens-prediction ref={prediction} src="./cnn.onnx" input={digits[digit]}></nnlens-prediction>
      <nnlens-activations src="./cnn.onnx" input={digits[digit]} layer="/inner/conv1/Conv"></nnlens-activations>
    </main>
  );
}
