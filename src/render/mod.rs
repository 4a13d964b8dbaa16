//! Pictures of what a network computes, in pure Rust: colormaps and scales
//! ([`colormap`]), RGBA rasters of activations with layouts that map pixels back to values
//! ([`raster`]), and charts drawn through any `plotters` backend ([`chart`]).
//!
//! Nothing here depends on the browser: rasters are plain byte buffers in `ImageData` layout
//! and charts draw on a `plotters` drawing area, which the web layer backs with a canvas.

pub mod chart;
pub mod colormap;
mod numfmt;
pub mod raster;
pub mod view;

pub use colormap::{Colormap, Lut, Scale};
pub use raster::Image;
