fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).unwrap();
        match nnlens::io::onnx::from_onnx(&bytes) {
            Ok(g) => println!(
                "{path}: ok, {} nodes, out {:?}",
                g.nodes().len(),
                g.output_shape()
            ),
            Err(e) => println!("{path}: {e}"),
        }
    }
}
