//! Small hand-built SVG charts: vertical bars (optionally stacked), horizontal bars and a
//! heat map. Every chart is an `<svg role="img">` with a `<title>` and a `<desc>` (its text
//! alternative), a `<title>` on every mark (a tooltip, read by screen readers too), and
//! colours as CSS classes so the page's light and dark palettes apply. Every text that
//! comes from data goes through [`escape`]: the charts are written as text, not through the
//! page's template, which takes them as they are.

use std::fmt::Write;

/// Width of every chart's coordinate system; the page scales it to the screen.
const WIDTH: f64 = 720.0;

/// One segment of a bar: its CSS class (the colour), its value and its tooltip.
#[derive(Debug, Clone)]
pub struct Segment {
    /// `ok`, `failed`, `high`...: a class the stylesheet colours.
    pub class: &'static str,
    /// The value (records, incidents...).
    pub value: f64,
    /// The mark's tooltip.
    pub tip: String,
}

/// A vertical bar: stacked segments, bottom first, and an optional axis label.
#[derive(Debug, Clone)]
pub struct Bar {
    /// Bottom first.
    pub segments: Vec<Segment>,
    /// Under the bar (only some are shown when there are many).
    pub label: String,
}

/// The opening of a chart: `<svg>` with its title and text alternative.
fn open(out: &mut String, id: &str, height: f64, title: &str, desc: &str) {
    let _ = write!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-labelledby=\"{id}-t {id}-d\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title id=\"{id}-t\">{}</title><desc id=\"{id}-d\">{}</desc>",
        escape(title),
        escape(desc)
    );
}

/// A number for an axis: whole numbers, with k and M for large ones.
pub fn axis_number(value: f64) -> String {
    if value >= 1_000_000.0 {
        format!("{:.1}M", value / 1_000_000.0)
    } else if value >= 10_000.0 {
        format!("{:.0}k", value / 1000.0)
    } else if value >= 1000.0 {
        format!("{:.1}k", value / 1000.0)
    } else if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// A round maximum for an axis at or above `max` (1, 2 or 5 times a power of ten).
fn nice_max(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let power = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * power).find(|&m| m >= max).unwrap_or(10.0 * power)
}

/// Vertical bars, stacked where a bar has several segments; `min_visible` draws a stub
/// for empty bars (a failed run with no records still shows its colour).
pub fn vertical_bars(id: &str, title: &str, desc: &str, bars: &[Bar], y_label: &str, min_visible: bool) -> String {
    let height = 240.0;
    let (left, right, top, bottom) = (56.0, 12.0, 16.0, 40.0);
    let plot_w = WIDTH - left - right;
    let plot_h = height - top - bottom;
    let max = nice_max(bars.iter().map(|b| b.segments.iter().map(|s| s.value).sum::<f64>()).fold(0.0, f64::max));
    let mut out = String::new();
    open(&mut out, id, height, title, desc);
    // Grid lines and the y axis.
    for step in 0..=4 {
        let value = max * f64::from(step) / 4.0;
        let y = top + plot_h - plot_h * f64::from(step) / 4.0;
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{left}\" x2=\"{x2}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
             <text class=\"axis\" x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{}</text>",
            axis_number(value),
            x2 = WIDTH - right,
            tx = left - 6.0,
            ty = y + 4.0
        );
    }
    let _ = write!(
        out,
        "<text class=\"axis\" x=\"12\" y=\"{y:.1}\" transform=\"rotate(-90 12 {y:.1})\" text-anchor=\"middle\">{}</text>",
        escape(y_label),
        y = top + plot_h / 2.0
    );
    let n = bars.len().max(1);
    let slot = plot_w / n as f64;
    let bar_w = (slot * 0.8).max(1.0);
    let label_every = n.div_ceil(8);
    let last_labelled = (n - 1) / label_every * label_every;
    for (i, bar) in bars.iter().enumerate() {
        let x = left + slot * i as f64 + (slot - bar_w) / 2.0;
        let mut y = top + plot_h;
        let total: f64 = bar.segments.iter().map(|s| s.value).sum();
        for segment in &bar.segments {
            let mut h = plot_h * segment.value / max;
            if min_visible && total == 0.0 {
                h = 3.0;
            } else if segment.value > 0.0 {
                // A small value next to large ones still shows.
                h = h.max(2.0);
            }
            if h <= 0.0 {
                continue;
            }
            y -= h;
            let _ = write!(
                out,
                "<rect class=\"{}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar_w:.1}\" height=\"{h:.1}\"><title>{}</title></rect>",
                segment.class,
                escape(&segment.tip)
            );
        }
        let last = i + 1 == n && i - last_labelled > label_every / 2;
        if i % label_every == 0 || last {
            let _ = write!(
                out,
                "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x + bar_w / 2.0,
                height - bottom + 16.0,
                escape(&bar.label)
            );
        }
    }
    let _ = write!(
        out,
        "<line class=\"baseline\" x1=\"{left}\" x2=\"{x2}\" y1=\"{y}\" y2=\"{y}\"/></svg>",
        x2 = WIDTH - right,
        y = top + plot_h
    );
    out
}

/// One row of a horizontal bar chart: a label and one or more bars side by side.
#[derive(Debug, Clone)]
pub struct Row {
    /// On the left.
    pub label: String,
    /// Drawn one under the other within the row.
    pub bars: Vec<Segment>,
    /// Printed after the bars.
    pub value_text: Vec<String>,
}

/// Horizontal bars, one row per label.
pub fn horizontal_bars(id: &str, title: &str, desc: &str, rows: &[Row]) -> String {
    let per_row = rows.iter().map(|r| r.bars.len()).max().unwrap_or(1).max(1) as f64;
    let row_h = 8.0 + 14.0 * per_row;
    let (left, right, top) = (224.0, 84.0, 8.0);
    let height = top * 2.0 + row_h * rows.len().max(1) as f64;
    let plot_w = WIDTH - left - right;
    let max = rows.iter().flat_map(|r| r.bars.iter().map(|b| b.value)).fold(0.0, f64::max);
    let max = if max > 0.0 { max } else { 1.0 };
    let mut out = String::new();
    open(&mut out, id, height, title, desc);
    for (i, row) in rows.iter().enumerate() {
        let y0 = top + row_h * i as f64;
        let _ = write!(
            out,
            "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left - 8.0,
            y0 + row_h / 2.0 + 4.0,
            escape(&shorten(&row.label, 27))
        );
        for (j, bar) in row.bars.iter().enumerate() {
            let y = y0 + 4.0 + 14.0 * j as f64;
            let w = (plot_w * bar.value / max).max(if bar.value > 0.0 { 1.0 } else { 0.0 });
            let _ = write!(
                out,
                "<rect class=\"{}\" x=\"{left}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"11\"><title>{}</title></rect>",
                bar.class,
                escape(&bar.tip)
            );
            if let Some(text) = row.value_text.get(j) {
                let _ = write!(
                    out,
                    "<text class=\"value\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                    left + w + 4.0,
                    y + 9.5,
                    escape(text)
                );
            }
        }
    }
    out.push_str("</svg>");
    out
}

/// A grid of cells shaded by value (0 = empty): `rows` labels down, `columns` across.
pub fn heat_map(
    id: &str,
    title: &str,
    desc: &str,
    row_labels: &[&str],
    column_labels: &[String],
    values: &[Vec<u64>],
    tip: &dyn Fn(usize, usize, u64) -> String,
) -> String {
    let (left, top) = (44.0, 22.0);
    let cols = column_labels.len().max(1);
    let cell_w = (WIDTH - left - 8.0) / cols as f64;
    let cell_h = 22.0;
    let height = top + cell_h * row_labels.len() as f64 + 8.0;
    let max = values.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
    let mut out = String::new();
    open(&mut out, id, height, title, desc);
    for (c, label) in column_labels.iter().enumerate() {
        if c % 3 == 0 {
            let _ = write!(
                out,
                "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                left + cell_w * c as f64 + cell_w / 2.0,
                top - 8.0,
                escape(label)
            );
        }
    }
    for (r, label) in row_labels.iter().enumerate() {
        let y = top + cell_h * r as f64;
        let _ = write!(
            out,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left - 6.0,
            y + cell_h / 2.0 + 4.0,
            escape(label)
        );
        for c in 0..cols {
            let value = values.get(r).and_then(|row| row.get(c)).copied().unwrap_or(0);
            let class = if value == 0 { "heat0" } else { "heat" };
            let opacity = if value == 0 { 1.0 } else { 0.15 + 0.85 * value as f64 / max };
            let _ = write!(
                out,
                "<rect class=\"{class}\" x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" \
                 fill-opacity=\"{opacity:.2}\"><title>{}</title></rect>",
                left + cell_w * c as f64 + 1.0,
                cell_w - 2.0,
                cell_h - 2.0,
                escape(&tip(r, c, value))
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// `text` safe inside SVG text and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` cut to `max` characters, with `…` when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max.saturating_sub(1)).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(11.0), 20.0);
        assert_eq!(nice_max(480.0), 500.0);
        assert_eq!(nice_max(f64::NAN), 1.0);
        assert_eq!(axis_number(2500.0), "2.5k");
        assert_eq!(axis_number(25_000.0), "25k");
        assert_eq!(axis_number(12.0), "12");
    }

    #[test]
    fn every_chart_has_a_title_a_text_alternative_and_escaped_data() {
        let tip = "<script>alert(1)</script>".to_owned();
        let bars = [Bar { segments: vec![Segment { class: "ok", value: 3.0, tip: tip.clone() }], label: "a&b".into() }];
        let svg = vertical_bars("c1", "Runs of \"x\"", "desc <b>", &bars, "records", true);
        assert!(
            svg.starts_with("<svg class=\"chart\" viewBox=\"0 0 720 240\" role=\"img\" aria-labelledby=\"c1-t c1-d\"")
        );
        assert!(svg.contains("<title id=\"c1-t\">Runs of &quot;x&quot;</title><desc id=\"c1-d\">desc &lt;b&gt;</desc>"));
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !svg.contains("<script>"), "{svg}");
        assert!(svg.contains(">a&amp;b</text>"), "{svg}");
        let rows = [Row {
            label: "<svc>".into(),
            bars: vec![Segment { class: "mtta", value: 1.0, tip }],
            value_text: vec!["1 min".into()],
        }];
        let svg = horizontal_bars("c2", "t", "d", &rows);
        assert!(svg.contains(">&lt;svc&gt;</text>") && !svg.contains("<svc>"), "{svg}");
        let svg = heat_map("c3", "t", "d", &["Mon"], &["00".into()], &[vec![0]], &|_, _, v| format!("{v} <x>"));
        assert!(svg.contains("<title>0 &lt;x&gt;</title>"), "{svg}");
    }
}
