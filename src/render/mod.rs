//! Pictures of what a network computes, in pure Rust: colormaps and scales
//! ([`colormap`]), RGBA rasters of activations with layouts that map pixels back to values
//! ([`raster`]), charts drawn through any `plotters` backend ([`chart`]), contour lines of gridded
//! values ([`contour`]) and loss landscapes with a training path over them ([`landscape`]).
//!
//! Nothing here depends on the browser: rasters are plain byte buffers in `ImageData` layout
//! and charts draw on a `plotters` drawing area, which the web layer backs with a canvas.

pub mod chart;
pub mod colormap;
pub mod contour;
pub mod landscape;
mod numfmt;
pub mod raster;
pub mod view;

pub use colormap::{Colormap, Lut, Scale};
pub use raster::Image;
