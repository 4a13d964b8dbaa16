//! MNIST-style preprocessing of a drawn or uploaded digit.
//!
//! As LeCun et al. describe the MNIST set: the digit's bounding box is scaled, keeping its aspect
//! ratio, so its longer side is 20 pixels (anti-aliased: each output pixel is the area-weighted
//! mean of the input it covers), and the result is placed in a 28 x 28 field translated so that its
//! centre of mass sits at the centre of the field.
//!
//! The box filter is written here rather than taken from the `image` crate: it is a few lines,
//! and `image` would add its codecs to the wasm package for one resize.

use crate::error::{ensure_finite, Error, Result};

/// Side of the output field.
pub const FIELD: usize = 28;
/// Side of the box the digit is scaled into.
pub const BOX: usize = 20;
/// Pixels at or below this intensity do not count as ink for the bounding box.
pub const INK_THRESHOLD: f32 = 0.05;

/// Turns a grayscale image (`width x height`, row-major, ink high in `[0, 1]`) into a 28 x 28
/// MNIST-style input. A blank image gives a blank field.
///
/// ```
/// use nnlens::io::image::{mnist_preprocess, FIELD};
/// let mut canvas = vec![0.0; 100 * 100];
/// for y in 10..30 { for x in 60..70 { canvas[y * 100 + x] = 1.0; } }
/// let field = mnist_preprocess(&canvas, 100, 100).unwrap();
/// assert_eq!(field.len(), FIELD * FIELD);
/// ```
pub fn mnist_preprocess(gray: &[f32], width: usize, height: usize) -> Result<Vec<f32>> {
    if width == 0 || height == 0 || width.checked_mul(height) != Some(gray.len()) {
        return Err(Error::shape(format!(
            "image has {} values, expected width {width} x height {height} (both at least 1)",
            gray.len()
        )));
    }
    if width > 4096 || height > 4096 {
        return Err(Error::invalid(
            "image size",
            format!("{width}x{height} is larger than 4096x4096; scale it down first"),
        ));
    }
    ensure_finite("image", gray.iter().copied())?;
    let mut field = vec![0.0f32; FIELD * FIELD];
    let ink = |x: usize, y: usize| gray[y * width + x] > INK_THRESHOLD;
    let rows: Vec<usize> = (0..height).filter(|&y| (0..width).any(|x| ink(x, y))).collect();
    let cols: Vec<usize> = (0..width).filter(|&x| (0..height).any(|y| ink(x, y))).collect();
    let (Some(&top), Some(&bottom), Some(&left), Some(&right)) = (rows.first(), rows.last(), cols.first(), cols.last()) else {
        return Ok(field);
    };
    let (bw, bh) = (right - left + 1, bottom - top + 1);
    let scale = BOX as f64 / bw.max(bh) as f64;
    let (sw, sh) = (
        ((bw as f64 * scale).round() as usize).clamp(1, BOX),
        ((bh as f64 * scale).round() as usize).clamp(1, BOX),
    );
    let scaled = area_resize(gray, width, (left, top, bw, bh), sw, sh);

    let mass: f64 = scaled.iter().map(|&v| v as f64).sum();
    let (mut cx, mut cy) = (0.0f64, 0.0f64);
    for y in 0..sh {
        for x in 0..sw {
            let v = scaled[y * sw + x] as f64;
            cx += (x as f64 + 0.5) * v;
            cy += (y as f64 + 0.5) * v;
        }
    }
    let (cx, cy) = if mass > 0.0 { (cx / mass, cy / mass) } else { (sw as f64 / 2.0, sh as f64 / 2.0) };
    let half = FIELD as f64 / 2.0;
    let (dx, dy) = ((half - cx).round() as isize, (half - cy).round() as isize);
    for y in 0..sh {
        for x in 0..sw {
            let (fx, fy) = (x as isize + dx, y as isize + dy);
            if (0..FIELD as isize).contains(&fx) && (0..FIELD as isize).contains(&fy) {
                field[fy as usize * FIELD + fx as usize] = scaled[y * sw + x].clamp(0.0, 1.0);
            }
        }
    }
    Ok(field)
}

/// Resizes the `(left, top, w, h)` region of a `stride`-wide image to `out_w x out_h`; each
/// output pixel is the mean of the input area it covers (partial pixels weighted by coverage).
fn area_resize(src: &[f32], stride: usize, (left, top, w, h): (usize, usize, usize, usize), out_w: usize, out_h: usize) -> Vec<f32> {
    let (sx, sy) = (w as f64 / out_w as f64, h as f64 / out_h as f64);
    let spans = |out: usize, step: f64, len: usize| -> Vec<Vec<(usize, f64)>> {
        (0..out)
            .map(|o| {
                let (a, b) = (o as f64 * step, ((o + 1) as f64 * step).min(len as f64));
                let mut cover = Vec::new();
                let mut i = a.floor() as usize;
                while (i as f64) < b && i < len {
                    let weight = (b.min(i as f64 + 1.0) - a.max(i as f64)).max(0.0);
                    if weight > 0.0 {
                        cover.push((i, weight));
                    }
                    i += 1;
                }
                cover
            })
            .collect()
    };
    let (xs, ys) = (spans(out_w, sx, w), spans(out_h, sy, h));
    let mut out = vec![0.0f32; out_w * out_h];
    for (oy, ycover) in ys.iter().enumerate() {
        for (ox, xcover) in xs.iter().enumerate() {
            let (mut sum, mut area) = (0.0f64, 0.0f64);
            for &(y, wy) in ycover {
                for &(x, wx) in xcover {
                    sum += src[(top + y) * stride + left + x] as f64 * wy * wx;
                    area += wy * wx;
                }
            }
            out[oy * out_w + ox] = if area > 0.0 { (sum / area) as f32 } else { 0.0 };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn centre_of_mass(field: &[f32]) -> (f64, f64) {
        let (mut m, mut cx, mut cy) = (0.0, 0.0, 0.0);
        for y in 0..FIELD {
            for x in 0..FIELD {
                let v = field[y * FIELD + x] as f64;
                m += v;
                cx += (x as f64 + 0.5) * v;
                cy += (y as f64 + 0.5) * v;
            }
        }
        (cx / m, cy / m)
    }

    fn ink_box(field: &[f32]) -> (usize, usize) {
        let ink: Vec<(usize, usize)> = (0..FIELD * FIELD)
            .filter(|&i| field[i] > INK_THRESHOLD)
            .map(|i| (i % FIELD, i / FIELD))
            .collect();
        let w = ink.iter().map(|p| p.0).max().unwrap() - ink.iter().map(|p| p.0).min().unwrap() + 1;
        let h = ink.iter().map(|p| p.1).max().unwrap() - ink.iter().map(|p| p.1).min().unwrap() + 1;
        (w, h)
    }

    #[test]
    fn off_centre_stroke_is_scaled_to_20_and_centred_by_mass() {
        let (w, h) = (280, 280);
        let mut canvas = vec![0.0; w * h];
        for y in 20..120 {
            for x in 200..250 {
                canvas[y * w + x] = 1.0;
            }
        }
        let field = mnist_preprocess(&canvas, w, h).unwrap();
        assert_eq!(ink_box(&field), (10, 20));
        let (cx, cy) = centre_of_mass(&field);
        assert!((cx - 14.0).abs() <= 0.5 && (cy - 14.0).abs() <= 0.5, "{cx}, {cy}");
        assert!(field.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn small_drawings_are_enlarged_and_antialiased() {
        let mut canvas = vec![0.0; 10 * 10];
        canvas[3 * 10 + 4] = 1.0;
        canvas[4 * 10 + 4] = 1.0;
        let field = mnist_preprocess(&canvas, 10, 10).unwrap();
        assert_eq!(ink_box(&field).1, 20);
        let downscaled = {
            // Every other column inked: each output pixel averages 5 columns, 2 or 3 of them ink.
            let mut c = vec![0.0; 100 * 100];
            for y in 0..100 {
                for x in (0..100).step_by(2) {
                    c[y * 100 + x] = 1.0;
                }
            }
            mnist_preprocess(&c, 100, 100).unwrap()
        };
        assert!(downscaled.iter().any(|&v| v > 0.0 && v < 1.0), "area averaging gives grey levels");
    }

    #[test]
    fn blank_and_bad_images() {
        assert!(mnist_preprocess(&[0.0; 16], 4, 4).unwrap().iter().all(|&v| v == 0.0));
        assert!(mnist_preprocess(&[0.0; 15], 4, 4).is_err());
        assert!(mnist_preprocess(&[f32::NAN; 16], 4, 4).is_err());
        assert!(mnist_preprocess(&[], 0, 0).is_err());
    }
}
