//! Inline SVG charts, written as text: no script, no external resource. Every mark that
//! carries a datum has a `data-value` attribute and a `<title>` (the browser's tooltip).
//! Every label is escaped: identities come from request headers.

use std::fmt::Write;

use super::markdown::n;

/// Colours for series, in order; chosen to stay apart for common colour blindness.
pub const PALETTE: &[&str] = &[
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];
pub const BLUE: &str = "#4e79a7";
pub const ALLOW: &str = "#59a14f";
pub const AUDIT: &str = "#edc948";
pub const BLOCK: &str = "#e15759";
pub const HANDOFF: &str = "#4e79a7";

const LABEL_WIDTH: f64 = 280.0;
const BAR_AREA: f64 = 520.0;
const ROW: f64 = 24.0;
const FONT: &str = r#"font-family="system-ui, sans-serif" font-size="12""#;

/// Text for XML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // XML 1.0 allows no other control characters.
            c if c.is_control() && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A label cut to `most` characters, escaped.
pub fn label(s: &str, most: usize) -> String {
    if s.chars().count() <= most {
        return esc(s);
    }
    let head: String = s.chars().take(most.saturating_sub(1)).collect();
    esc(&format!("{head}…"))
}

fn value(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.3}")
    }
}

/// HTML5 inline SVG needs no namespace declaration, so the report names no URL at all.
fn open_svg(svg: &mut String, width: f64, height: f64, title: &str) {
    let _ = write!(
        svg,
        r#"<svg width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-label="{}" {FONT}>"#,
        esc(title)
    );
}

/// A legend row of coloured squares at the top.
fn legend(svg: &mut String, series: &[(String, &str)], y: f64) {
    let mut x = LABEL_WIDTH;
    for (name, colour) in series {
        let _ = write!(
            svg,
            r#"<rect x="{x:.0}" y="{:.0}" width="10" height="10" fill="{colour}"/><text x="{:.0}" y="{y:.0}">{}</text>"#,
            y - 9.0,
            x + 14.0,
            label(name, 24)
        );
        let shown = name.chars().count().min(24);
        #[allow(clippy::cast_precision_loss, reason = "a short label's length")]
        let w = 24.0 + 7.0 * shown as f64;
        x += w;
    }
}

/// One bar per row, split into series (a stacked bar); `rows` are (label, one value per
/// series). `None` when there is nothing to draw.
pub fn stacked_bars(
    title: &str,
    rows: &[(String, Vec<f64>)],
    series: &[(String, &str)],
) -> Option<String> {
    let max = rows
        .iter()
        .map(|(_, v)| v.iter().sum::<f64>())
        .fold(0.0_f64, f64::max);
    if rows.is_empty() || max <= 0.0 {
        return None;
    }
    let top = if series.len() > 1 { 28.0 } else { 8.0 };
    #[allow(clippy::cast_precision_loss, reason = "a row count")]
    let height = top + ROW * rows.len() as f64 + 8.0;
    let mut svg = String::new();
    open_svg(&mut svg, LABEL_WIDTH + BAR_AREA + 80.0, height, title);
    if series.len() > 1 {
        legend(&mut svg, series, 16.0);
    }
    let mut y = top;
    for (name, values) in rows {
        let _ = write!(
            svg,
            r#"<text x="{:.0}" y="{:.0}" text-anchor="end"><title>{}</title>{}</text>"#,
            LABEL_WIDTH - 8.0,
            y + 15.0,
            esc(name),
            label(name, 40)
        );
        let mut x = LABEL_WIDTH;
        for (v, (series_name, colour)) in values.iter().zip(series) {
            if *v <= 0.0 {
                continue;
            }
            let w = (v / max * BAR_AREA).max(1.0);
            let _ = write!(
                svg,
                r#"<rect class="mark" x="{x:.1}" y="{:.0}" width="{w:.1}" height="{:.0}" fill="{colour}" data-value="{}" data-series="{}"><title>{}: {} {}</title></rect>"#,
                y + 3.0,
                ROW - 6.0,
                value(*v),
                esc(series_name),
                esc(name),
                esc(series_name),
                n(*v)
            );
            x += w;
        }
        let total: f64 = values.iter().sum();
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.0}">{}</text>"#,
            x + 6.0,
            y + 15.0,
            n(total)
        );
        y += ROW;
    }
    svg.push_str("</svg>");
    Some(svg)
}

/// A heat map: rows × columns, each cell's shade by its value.
pub fn heat_map(
    title: &str,
    rows: &[String],
    columns: &[String],
    cell: impl Fn(usize, usize) -> f64,
) -> Option<String> {
    const CELL_W: f64 = 44.0;
    const HEADER: f64 = 120.0;
    let mut max = 0.0_f64;
    for r in 0..rows.len() {
        for c in 0..columns.len() {
            max = max.max(cell(r, c));
        }
    }
    if max <= 0.0 {
        return None;
    }
    #[allow(clippy::cast_precision_loss, reason = "row and column counts")]
    let (width, height) = (
        LABEL_WIDTH + CELL_W * columns.len() as f64 + 110.0,
        HEADER + ROW * rows.len() as f64 + 8.0,
    );
    let mut svg = String::new();
    open_svg(&mut svg, width, height, title);
    let mut x = LABEL_WIDTH;
    for c in columns {
        let _ = write!(
            svg,
            r#"<text transform="translate({:.0},{:.0}) rotate(-50)"><title>{}</title>{}</text>"#,
            x + CELL_W / 2.0,
            HEADER - 6.0,
            esc(c),
            label(c, 18)
        );
        x += CELL_W;
    }
    let mut y = HEADER;
    for (r, row) in rows.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<text x="{:.0}" y="{:.0}" text-anchor="end"><title>{}</title>{}</text>"#,
            LABEL_WIDTH - 8.0,
            y + 15.0,
            esc(row),
            label(row, 40)
        );
        let mut x = LABEL_WIDTH;
        for (c, column) in columns.iter().enumerate() {
            let v = cell(r, c);
            let (fill, opacity) = if v > 0.0 {
                (BLUE, 0.15 + 0.85 * v / max)
            } else {
                ("#eeeeee", 1.0)
            };
            let _ = write!(
                svg,
                r#"<rect class="mark" x="{x:.0}" y="{:.0}" width="{:.0}" height="{:.0}" fill="{fill}" fill-opacity="{opacity:.2}" data-value="{}"><title>{} → {}: {}</title></rect>"#,
                y + 1.0,
                CELL_W - 2.0,
                ROW - 2.0,
                value(v),
                esc(row),
                esc(column),
                n(v)
            );
            if v > 0.0 {
                let _ = write!(
                    svg,
                    r#"<text x="{:.0}" y="{:.0}" text-anchor="middle" fill="{}">{}</text>"#,
                    x + CELL_W / 2.0 - 1.0,
                    y + 15.0,
                    if v / max > 0.6 { "#ffffff" } else { "#222222" },
                    n(v)
                );
            }
            x += CELL_W;
        }
        y += ROW;
    }
    svg.push_str("</svg>");
    Some(svg)
}

/// One sender's score distribution: ten bars by tenth, the threshold as a dashed line.
pub fn histogram(title: &str, counts: &[f64; 10], threshold: f64) -> Option<String> {
    const W: f64 = 260.0;
    const H: f64 = 110.0;
    const BASE: f64 = 90.0;
    const BAR: f64 = 24.0;
    let max = counts.iter().copied().fold(0.0_f64, f64::max);
    if max <= 0.0 {
        return None;
    }
    let mut svg = String::new();
    open_svg(&mut svg, W, H, title);
    let mut x = 10.0;
    for (i, v) in counts.iter().enumerate() {
        let h = if *v > 0.0 {
            (v / max * 76.0).max(1.0)
        } else {
            0.0
        };
        #[allow(clippy::cast_precision_loss, reason = "0..10")]
        let low = i as f64 / 10.0;
        let colour = if low + 0.1 > threshold { BLOCK } else { BLUE };
        let _ = write!(
            svg,
            r#"<rect class="mark" x="{x:.0}" y="{:.1}" width="{:.0}" height="{h:.1}" fill="{colour}" data-value="{}" data-bucket="{low:.1}-{:.1}"><title>score {low:.1}-{:.1}: {}</title></rect>"#,
            BASE - h,
            BAR - 2.0,
            value(*v),
            low + 0.1,
            low + 0.1,
            n(*v)
        );
        x += BAR;
    }
    let tx = 10.0 + threshold * BAR * 10.0;
    let _ = write!(
        svg,
        r##"<line x1="{tx:.1}" x2="{tx:.1}" y1="8" y2="{BASE}" stroke="#222" stroke-dasharray="3 2"/><text x="10" y="{:.0}">0</text><text x="{:.0}" y="{:.0}" text-anchor="end">1</text><text x="{tx:.1}" y="{:.0}" text-anchor="middle">{threshold:.2}</text>"##,
        BASE + 14.0,
        10.0 + BAR * 10.0,
        BASE + 14.0,
        BASE + 14.0
    );
    svg.push_str("</svg>");
    Some(svg)
}

/// Decisions over time: a stacked column per bucket (allow, audit, block, handoff).
pub fn timeline(title: &str, buckets: &[(String, [f64; 4])]) -> Option<String> {
    const H: f64 = 220.0;
    const BASE: f64 = 180.0;
    const LEFT: f64 = 50.0;
    let max = buckets
        .iter()
        .map(|(_, v)| v.iter().sum::<f64>())
        .fold(0.0_f64, f64::max);
    if max <= 0.0 {
        return None;
    }
    #[allow(clippy::cast_precision_loss, reason = "a bucket count")]
    let count = buckets.len() as f64;
    let column = (760.0 / count).clamp(4.0, 40.0);
    let width = LEFT + column * count + 20.0;
    let mut svg = String::new();
    open_svg(&mut svg, width.max(420.0), H, title);
    let names = [
        ("allow", ALLOW),
        ("audit", AUDIT),
        ("block", BLOCK),
        ("handoff", HANDOFF),
    ];
    let mut lx = LEFT;
    for (name, colour) in names {
        let _ = write!(
            svg,
            r#"<rect x="{lx:.0}" y="4" width="10" height="10" fill="{colour}"/><text x="{:.0}" y="13">{name}</text>"#,
            lx + 14.0
        );
        lx += 70.0;
    }
    let _ = write!(
        svg,
        r##"<text x="{:.0}" y="{:.0}" text-anchor="end">{}</text><line x1="{LEFT}" x2="{LEFT}" y1="24" y2="{BASE}" stroke="#999"/>"##,
        LEFT - 4.0,
        28.0,
        n(max)
    );
    // Label about eight buckets.
    let every = (buckets.len() / 8).max(1);
    let mut x = LEFT;
    for (i, (start, values)) in buckets.iter().enumerate() {
        let mut y = BASE;
        for (v, (name, colour)) in values.iter().zip(names) {
            if *v <= 0.0 {
                continue;
            }
            let h = (v / max * (BASE - 28.0)).max(1.0);
            y -= h;
            let _ = write!(
                svg,
                r#"<rect class="mark" x="{:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" fill="{colour}" data-value="{}" data-series="{name}"><title>{}: {name} {}</title></rect>"#,
                x + 1.0,
                (column - 2.0).max(1.0),
                value(*v),
                esc(start),
                n(*v)
            );
        }
        if i % every == 0 {
            let _ = write!(
                svg,
                r#"<text x="{x:.1}" y="{:.0}" font-size="10">{}</text>"#,
                BASE + 14.0 + if (i / every) % 2 == 1 { 12.0 } else { 0.0 },
                esc(start.get(5..16).unwrap_or(start))
            );
        }
        x += column;
    }
    svg.push_str("</svg>");
    Some(svg)
}
