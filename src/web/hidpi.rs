//! A drawing backend that keeps charts sharp on HiDPI screens.
//!
//! The page sizes a chart canvas's backing store to its CSS size times `devicePixelRatio`.
//! Charts are laid out in CSS pixels (font sizes, margins and strokes as designed); this wrapper
//! presents the CSS size to plotters and scales every coordinate, stroke width, radius and font
//! size by the ratio on the way to the real backend.

use plotters_backend::text_anchor::Pos;
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
    FontFamily, FontStyle, FontTransform,
};

/// Wraps a backend whose pixels are `ratio` times smaller than the CSS pixels charts use.
pub struct HiDpi<B> {
    inner: B,
    ratio: f64,
}

impl<B: DrawingBackend> HiDpi<B> {
    /// Wraps `inner`; `ratio` is the device pixel ratio (at least 1 is not required, must be > 0).
    pub fn new(inner: B, ratio: f64) -> Self {
        let ratio = if ratio.is_finite() && ratio > 0.0 {
            ratio
        } else {
            1.0
        };
        HiDpi { inner, ratio }
    }

    fn point(&self, (x, y): BackendCoord) -> BackendCoord {
        (
            (x as f64 * self.ratio).round() as i32,
            (y as f64 * self.ratio).round() as i32,
        )
    }

    fn length(&self, v: u32) -> u32 {
        ((v as f64 * self.ratio).round() as u32).max(1)
    }
}

struct Stroke {
    color: BackendColor,
    width: u32,
}

impl BackendStyle for Stroke {
    fn color(&self) -> BackendColor {
        self.color
    }
    fn stroke_width(&self) -> u32 {
        self.width
    }
}

struct ScaledText<'a, T> {
    inner: &'a T,
    ratio: f64,
}

impl<T: BackendTextStyle> BackendTextStyle for ScaledText<'_, T> {
    type FontError = T::FontError;
    fn color(&self) -> BackendColor {
        self.inner.color()
    }
    fn size(&self) -> f64 {
        self.inner.size() * self.ratio
    }
    fn transform(&self) -> FontTransform {
        self.inner.transform()
    }
    fn style(&self) -> FontStyle {
        self.inner.style()
    }
    fn anchor(&self) -> Pos {
        self.inner.anchor()
    }
    fn family(&self) -> FontFamily<'_> {
        self.inner.family()
    }
    fn layout_box(&self, text: &str) -> Result<((i32, i32), (i32, i32)), Self::FontError> {
        let ((x0, y0), (x1, y1)) = self.inner.layout_box(text)?;
        let s = |v: i32| (v as f64 * self.ratio).round() as i32;
        Ok(((s(x0), s(y0)), (s(x1), s(y1))))
    }
    fn draw<E, F: FnMut(i32, i32, BackendColor) -> Result<(), E>>(
        &self,
        text: &str,
        pos: BackendCoord,
        draw: F,
    ) -> Result<Result<(), E>, Self::FontError> {
        self.inner.draw(text, pos, draw)
    }
}

impl<B: DrawingBackend> DrawingBackend for HiDpi<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        let (w, h) = self.inner.get_size();
        (
            ((w as f64 / self.ratio).floor() as u32).max(1),
            ((h as f64 / self.ratio).floor() as u32).max(1),
        )
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let (x, y) = self.point(point);
        let (x1, y1) = self.point((point.0 + 1, point.1 + 1));
        self.inner.draw_rect((x, y), (x1 - 1, y1 - 1), &color, true)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let stroke = Stroke {
            color: style.color(),
            width: self.length(style.stroke_width()),
        };
        let (a, b) = (self.point(from), self.point(to));
        self.inner.draw_line(a, b, &stroke)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let stroke = Stroke {
            color: style.color(),
            width: self.length(style.stroke_width()),
        };
        let (a, b) = (self.point(upper_left), self.point(bottom_right));
        self.inner.draw_rect(a, b, &stroke, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let stroke = Stroke {
            color: style.color(),
            width: self.length(style.stroke_width()),
        };
        let points: Vec<BackendCoord> = path.into_iter().map(|p| self.point(p)).collect();
        self.inner.draw_path(points, &stroke)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let stroke = Stroke {
            color: style.color(),
            width: self.length(style.stroke_width()),
        };
        let (c, r) = (self.point(center), self.length(radius));
        self.inner.draw_circle(c, r, &stroke, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let points: Vec<BackendCoord> = vert.into_iter().map(|p| self.point(p)).collect();
        self.inner.fill_polygon(points, &style.color())
    }

    fn draw_text<T: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &T,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let scaled = ScaledText {
            inner: style,
            ratio: self.ratio,
        };
        let p = self.point(pos);
        self.inner.draw_text(text, &scaled, p)
    }
}
