//! The HTML format: one self-contained page (inline CSS, SVG bar charts) per report.
//!
//! Policy: the page loads nothing from the network (no CDN, fonts or scripts), escapes every
//! text it lays out, and prints cleanly to PDF; chart gridlines fall on round numbers.

use std::fmt::Write as _;

use super::{Chart, Document, is_numeric};

/// Escapes text for HTML element content and attribute values.
pub(crate) fn html_escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&#39;"),
            c => s.push(c),
        }
    }
    s
}

const CSS: &str = "body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0;font-variant-numeric:tabular-nums}
th,td{padding:.25em .7em;border-bottom:1px solid #e4e4e4;text-align:left}
td.n{text-align:right}th{background:#f4f4f4}
.note{color:#555;font-size:.92em}.legend span{display:inline-block;margin-right:1em}
.legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:-.1em}
svg{max-width:100%;height:auto}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}table,svg{break-inside:avoid}}";

pub(super) fn render_html(doc: &Document) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><style>{CSS}</style>\
         </head><body><h1>{}</h1>",
        html_escape(&doc.title),
        html_escape(&doc.title)
    );
    if !doc.summary.is_empty() {
        h.push_str("<ul class=\"note\">");
        for line in &doc.summary {
            let _ = write!(h, "<li>{}</li>", html_escape(line));
        }
        h.push_str("</ul>");
    }
    for chart in &doc.charts {
        h.push_str(&svg_chart(chart));
    }
    for section in &doc.sections {
        let _ = write!(h, "<h2>{}</h2>", html_escape(&section.title));
        if section.rows.is_empty() {
            h.push_str("<p class=\"note\">(none)</p>");
        } else {
            let images = section.images.iter().any(Option::is_some);
            h.push_str("<table><thead><tr>");
            if images {
                h.push_str("<th>face</th>");
            }
            for header in &section.headers {
                let _ = write!(h, "<th>{}</th>", html_escape(header));
            }
            h.push_str("</tr></thead><tbody>");
            for (i, row) in section.rows.iter().enumerate() {
                match section.titles.get(i).and_then(Option::as_deref) {
                    Some(title) => {
                        let _ = write!(h, "<tr title=\"{}\">", html_escape(title));
                    }
                    None => h.push_str("<tr>"),
                }
                if images {
                    match section.images.get(i).and_then(Option::as_deref) {
                        // Only data URIs the report built: the page still loads nothing.
                        Some(uri) if uri.starts_with("data:image/") => {
                            let _ = write!(
                                h,
                                "<td><img src=\"{}\" alt=\"face\" width=\"64\"></td>",
                                html_escape(uri)
                            );
                        }
                        _ => h.push_str("<td></td>"),
                    }
                }
                for cell in row {
                    let class = if is_numeric(cell) { " class=\"n\"" } else { "" };
                    let _ = write!(h, "<td{class}>{}</td>", html_escape(cell));
                }
                h.push_str("</tr>");
            }
            h.push_str("</tbody></table>");
        }
        for note in &section.notes {
            let _ = write!(h, "<p class=\"note\">{}</p>", html_escape(note));
        }
    }
    h.push_str("</body></html>\n");
    h
}

/// The drawing area of a chart, in SVG units.
struct Plot {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    /// The width of one label's slot.
    slot: f64,
}

impl Plot {
    /// The middle of label `i`'s slot.
    fn x(&self, i: usize) -> f64 {
        self.left + self.slot * (i as f64 + 0.5)
    }

    /// The height of `v` on an axis from 0 to `max`.
    fn y(&self, v: f64, max: f64) -> f64 {
        self.top + self.height - self.height * v / max
    }
}

/// A stacked bar chart as inline SVG, with a share line over it when the chart has one.
fn svg_chart(chart: &Chart) -> String {
    let n = chart.labels.len().max(1);
    let (width, height, bottom) = (960.0_f64, 300.0_f64, 60.0);
    let right = if chart.share.is_some() { 56.0 } else { 10.0 };
    let (left, top) = (56.0, 16.0);
    let plot = Plot {
        left,
        top,
        width: width - left - right,
        height: height - bottom - top,
        slot: (width - left - right) / n as f64,
    };
    let totals: Vec<f64> = (0..n)
        .map(|i| {
            chart
                .series
                .iter()
                .map(|(_, v, _)| v.get(i).copied().unwrap_or(0.0))
                .sum()
        })
        .collect();
    // Gridlines at round numbers: four steps of 1, 2, 2.5 or 5 times a power of ten.
    let step = nice_step(totals.iter().copied().fold(0.0, f64::max).max(1.0) / 4.0);
    let max = step * 4.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<h2>{}</h2><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" \
         role=\"img\" aria-label=\"{}\" font-size=\"11\" font-family=\"sans-serif\">",
        html_escape(&chart.title),
        html_escape(&chart.title)
    );
    for k in 0..=4 {
        let v = max * f64::from(k) / 4.0;
        let y = plot.y(v, max);
        let _ = write!(
            s,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            width - right,
            left - 4.0,
            y + 4.0,
            format_axis(v)
        );
    }
    bars(&mut s, chart, &plot, max);
    if let Some(line) = &chart.share {
        share_line(&mut s, chart, line, &plot);
    }
    legend(&mut s, chart);
    s
}

/// The stacked bars of every label, and every `n / 16`th label under its bar.
fn bars(s: &mut String, chart: &Chart, plot: &Plot, max: f64) {
    let n = chart.labels.len().max(1);
    let (left, top) = (plot.left, plot.top);
    let label_every = (n / 16).max(1);
    for i in 0..n {
        let x = left + plot.slot * i as f64;
        let mut y = top + plot.height;
        for (name, values, colour) in &chart.series {
            let v = values.get(i).copied().unwrap_or(0.0);
            if v <= 0.0 {
                continue;
            }
            let h = plot.height * v / max;
            y -= h;
            let _ = write!(
                *s,
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{colour}\">\
                 <title>{} {}: {}</title></rect>",
                x + plot.slot * 0.1,
                plot.slot * 0.8,
                html_escape(chart.labels.get(i).map_or("", String::as_str)),
                html_escape(name),
                format_axis(v)
            );
        }
        if i % label_every == 0 {
            let _ = write!(
                *s,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" transform=\"rotate(-40 {:.1} {:.1})\">{}</text>",
                plot.x(i),
                top + plot.height + 14.0,
                plot.x(i),
                top + plot.height + 14.0,
                html_escape(chart.labels.get(i).map_or("", String::as_str))
            );
        }
    }
}

/// The legend under the chart: each series' colour, and the share line's.
fn legend(s: &mut String, chart: &Chart) {
    s.push_str("</svg><div class=\"legend note\">");
    for (name, _, colour) in &chart.series {
        let _ = write!(
            *s,
            "<span><i style=\"background:{colour}\"></i>{}</span>",
            html_escape(name)
        );
    }
    if let Some(line) = &chart.share {
        let _ = write!(
            *s,
            "<span><i style=\"background:{};height:.2em;vertical-align:.2em\"></i>{}</span>",
            line.colour,
            html_escape(&line.name)
        );
    }
    s.push_str("</div>");
}

/// The share as a line on its own axis (right, in percent, from 0), its interval as a band
/// behind it; labels without a share are skipped (the line joins the ones either side).
fn share_line(s: &mut String, chart: &Chart, line: &super::ShareLine, plot: &Plot) {
    let top_share = line
        .high
        .iter()
        .chain(&line.values)
        .flatten()
        .copied()
        .fold(0.0, f64::max);
    // Round steps of whole percents (or finer below 4%).
    let step = nice_step(top_share * 100.0 / 4.0 * 100.0) / 100.0 / 100.0;
    let max = (step * 4.0).max(1e-9);
    let right = plot.left + plot.width;
    for k in 0..=4 {
        let v = max * f64::from(k) / 4.0;
        let _ = write!(
            s,
            "<text class=\"share-axis\" x=\"{:.1}\" y=\"{:.1}\" fill=\"{}\">{}%</text>",
            right + 4.0,
            plot.y(v, max) + 4.0,
            line.colour,
            format_axis((v * 10_000.0).round() / 100.0)
        );
    }
    let defined: Vec<usize> = (0..chart.labels.len())
        .filter(|&i| line.values.get(i).copied().flatten().is_some())
        .collect();
    let point = |i: usize, v: &[Option<f64>]| {
        let value = v.get(i).copied().flatten().unwrap_or(0.0);
        format!("{:.1},{:.1}", plot.x(i), plot.y(value, max))
    };
    let band: Vec<String> = defined
        .iter()
        .map(|&i| point(i, &line.high))
        .chain(defined.iter().rev().map(|&i| point(i, &line.low)))
        .collect();
    let _ = write!(
        s,
        "<polygon class=\"share-band\" points=\"{}\" fill=\"{}\" fill-opacity=\"0.18\" stroke=\"none\"/>",
        band.join(" "),
        line.colour
    );
    let points: Vec<String> = defined.iter().map(|&i| point(i, &line.values)).collect();
    let _ = write!(
        s,
        "<polyline class=\"share\" points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>",
        points.join(" "),
        line.colour
    );
    for &i in &defined {
        let pct = |v: &[Option<f64>]| v.get(i).copied().flatten().unwrap_or(0.0) * 100.0;
        let _ = write!(
            s,
            "<circle class=\"share-point\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{}\" \
             data-share=\"{}\"><title>{} share: {:.1}% (95% interval {:.1}-{:.1}%)</title></circle>",
            plot.x(i),
            plot.y(line.values[i].unwrap_or(0.0), max),
            line.colour,
            line.values[i].unwrap_or(0.0),
            html_escape(chart.labels.get(i).map_or("", String::as_str)),
            pct(&line.values),
            pct(&line.low),
            pct(&line.high)
        );
    }
}

/// The smallest of 1, 2, 2.5, 5 (times a power of ten, at least 1) that is at least `raw`.
pub(super) fn nice_step(raw: f64) -> f64 {
    let magnitude = 10f64.powf(raw.max(1.0).log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude)
}

fn format_axis(v: f64) -> String {
    if v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}
