//! Tests only: a software renderer for `egui_kittest`'s snapshots. It draws egui's triangles on
//! the CPU, exactly as egui's own renderers compose them (premultiplied colours, blended in
//! gamma space, the texture sampled bilinearly), so snapshot tests need no GPU, no Vulkan driver
//! and no display, and give the same pixels on every machine.

use egui::epaint::{ClippedPrimitive, ImageData, Primitive, TextureId, Vertex};
use egui::TexturesDelta;
use egui_kittest::TestRenderer;
use std::collections::HashMap;

/// An RGBA texture, premultiplied, values 0–1.
struct Texture {
    width: usize,
    height: usize,
    pixels: Vec<[f32; 4]>,
}

impl Texture {
    /// Bilinear sample at `(u, v)` in 0–1, clamped at the edges.
    fn sample(&self, u: f32, v: f32) -> [f32; 4] {
        let x = (u * self.width as f32 - 0.5).clamp(0.0, (self.width - 1) as f32);
        let y = (v * self.height as f32 - 0.5).clamp(0.0, (self.height - 1) as f32);
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.width - 1), (y0 + 1).min(self.height - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let at = |x: usize, y: usize| self.pixels[y * self.width + x];
        let mut out = [0.0; 4];
        for (c, value) in out.iter_mut().enumerate() {
            let top = at(x0, y0)[c] * (1.0 - fx) + at(x1, y0)[c] * fx;
            let bottom = at(x0, y1)[c] * (1.0 - fx) + at(x1, y1)[c] * fx;
            *value = top * (1.0 - fy) + bottom * fy;
        }
        out
    }
}

/// Draws egui's output into an RGBA image on the CPU.
#[derive(Default)]
pub struct SoftwareRenderer {
    textures: HashMap<TextureId, Texture>,
}

impl TestRenderer for SoftwareRenderer {
    fn handle_delta(&mut self, delta: &mut TexturesDelta) {
        for (id, image_delta) in delta
            .set
            .iter()
            .flat_map(|(id, d)| d.iter().map(move |d| (id, d)))
        {
            let ImageData::Color(image) = &image_delta.image;
            let [w, h] = image.size;
            let pixels: Vec<[f32; 4]> = image
                .pixels
                .iter()
                .map(|c| c.to_array().map(|v| v as f32 / 255.0))
                .collect();
            match image_delta.pos {
                None => {
                    self.textures.insert(
                        *id,
                        Texture {
                            width: w,
                            height: h,
                            pixels,
                        },
                    );
                }
                Some([x0, y0]) => {
                    if let Some(texture) = self.textures.get_mut(id) {
                        for y in 0..h {
                            for x in 0..w {
                                texture.pixels[(y0 + y) * texture.width + x0 + x] =
                                    pixels[y * w + x];
                            }
                        }
                    }
                }
            }
        }
        for id in &delta.free {
            self.textures.remove(id);
        }
        // Applied: egui checks that no delta is dropped unseen.
        delta.clear();
    }

    fn render(
        &mut self,
        ctx: &egui::Context,
        output: &egui::FullOutput,
    ) -> Result<image::RgbaImage, String> {
        let ppp = output.pixels_per_point;
        let size = ctx.content_rect().size() * ppp;
        let (width, height) = (size.x.round() as usize, size.y.round() as usize);
        let mut frame = vec![[0.0f32; 4]; width * height];
        let primitives = ctx.tessellate(output.shapes.clone(), ppp);
        for ClippedPrimitive {
            clip_rect,
            primitive,
        } in &primitives
        {
            let Primitive::Mesh(mesh) = primitive else {
                continue;
            };
            let Some(texture) = self.textures.get(&mesh.texture_id) else {
                return Err(format!("unknown texture {:?}", mesh.texture_id));
            };
            let clip = [
                (clip_rect.min.x * ppp).round().max(0.0) as usize,
                (clip_rect.min.y * ppp).round().max(0.0) as usize,
                ((clip_rect.max.x * ppp).round().max(0.0) as usize).min(width),
                ((clip_rect.max.y * ppp).round().max(0.0) as usize).min(height),
            ];
            for triangle in mesh.indices.chunks_exact(3) {
                let v = [0, 1, 2].map(|k| mesh.vertices[triangle[k] as usize]);
                draw_triangle(&mut frame, width, clip, ppp, &v, texture);
            }
        }
        let mut image = image::RgbaImage::new(width as u32, height as u32);
        for (pixel, value) in image.pixels_mut().zip(&frame) {
            let rgb = value.map(|c| (c.clamp(0.0, 1.0) * 255.0).round() as u8);
            *pixel = image::Rgba([rgb[0], rgb[1], rgb[2], 255]);
        }
        Ok(image)
    }
}

/// Fills the pixels whose centres lie in the triangle `v` (points scaled by `ppp`) within
/// `clip` (x0, y0, x1, y1 in pixels).
fn draw_triangle(
    frame: &mut [[f32; 4]],
    width: usize,
    clip: [usize; 4],
    ppp: f32,
    v: &[Vertex; 3],
    texture: &Texture,
) {
    let p = v.map(|v| (v.pos.x * ppp, v.pos.y * ppp));
    let area = (p[1].0 - p[0].0) * (p[2].1 - p[0].1) - (p[2].0 - p[0].0) * (p[1].1 - p[0].1);
    if area.abs() < 1e-6 {
        return;
    }
    let min_x = p
        .iter()
        .map(|q| q.0)
        .fold(f32::MAX, f32::min)
        .floor()
        .max(clip[0] as f32) as usize;
    let max_x = (p.iter().map(|q| q.0).fold(f32::MIN, f32::max).ceil() as usize).min(clip[2]);
    let min_y = p
        .iter()
        .map(|q| q.1)
        .fold(f32::MAX, f32::min)
        .floor()
        .max(clip[1] as f32) as usize;
    let max_y = (p.iter().map(|q| q.1).fold(f32::MIN, f32::max).ceil() as usize).min(clip[3]);
    let colours = v.map(|v| v.color.to_array().map(|c| c as f32 / 255.0));
    for y in min_y..max_y {
        for x in min_x..max_x {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            // Barycentric weights; all of one sign inside, whichever the winding.
            let w0 = ((p[1].0 - px) * (p[2].1 - py) - (p[2].0 - px) * (p[1].1 - py)) / area;
            let w1 = ((p[2].0 - px) * (p[0].1 - py) - (p[0].0 - px) * (p[2].1 - py)) / area;
            let w2 = 1.0 - w0 - w1;
            if w0 < 0.0 || w1 < 0.0 || w2 < 0.0 {
                continue;
            }
            let u = w0 * v[0].uv.x + w1 * v[1].uv.x + w2 * v[2].uv.x;
            let t = w0 * v[0].uv.y + w1 * v[1].uv.y + w2 * v[2].uv.y;
            let texel = texture.sample(u, t);
            let dst = &mut frame[y * width + x];
            let mut src = [0.0; 4];
            for c in 0..4 {
                let colour = w0 * colours[0][c] + w1 * colours[1][c] + w2 * colours[2][c];
                src[c] = colour * texel[c];
            }
            for c in 0..4 {
                dst[c] = src[c] + dst[c] * (1.0 - src[3]);
            }
        }
    }
}
