//! Hand-made SVG charts, each drawn beside a table of its numbers (the table is what screen
//! readers and copy-paste get; the chart is for the eye).

use std::fmt::Write;

use super::esc;

/// One bar: label, value, colour.
pub(crate) struct Bar<'a> {
    pub label: &'a str,
    pub value: usize,
    pub color: &'a str,
}

/// A horizontal bar chart with its numbers in a table next to it. `id` names the figure.
pub(crate) fn bars(id: &str, caption: &str, unit: &str, bars: &[Bar]) -> String {
    const BAR_W: usize = 260;
    const ROW_H: usize = 28;
    // Labels are cut at LABEL_CHARS (the full text is in the bar's tooltip and the table);
    // the label column is as wide as the longest, at about 7 px a character.
    const LABEL_CHARS: usize = 34;
    let shown: Vec<String> = bars.iter().map(|b| short(b.label, LABEL_CHARS)).collect();
    let longest = shown.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let label_w = longest * 7 + 16;
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let h = ROW_H * bars.len().max(1) + 8;
    let w = label_w + BAR_W + 60;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"{id}-cap\">"
    );
    for (i, b) in bars.iter().enumerate() {
        let y = i * ROW_H + 4;
        let len = if b.value == 0 {
            0
        } else {
            (b.value * BAR_W / max).max(2)
        };
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"13\" fill=\"#1d2733\">{}</text>\
             <rect x=\"{label_w}\" y=\"{y}\" width=\"{len}\" height=\"{}\" rx=\"3\" fill=\"{}\"><title>{}: {}</title></rect>\
             <text x=\"{}\" y=\"{}\" font-size=\"13\" fill=\"#1d2733\">{}</text>",
            label_w - 8,
            y + 17,
            esc(&shown[i]),
            ROW_H - 8,
            esc(b.color),
            esc(&plain(b.label)),
            b.value,
            label_w + len + 6,
            y + 17,
            b.value
        );
    }
    svg.push_str("</svg>");
    let mut rows = String::new();
    for b in bars {
        let _ = write!(
            rows,
            "<tr><td><span style=\"color:{}\">&#9632;</span> {}</td><td class=\"num\">{}</td></tr>",
            esc(b.color),
            super::prose(b.label),
            b.value
        );
    }
    let total: usize = bars.iter().map(|b| b.value).sum();
    format!(
        "<div class=\"chart-row\" id=\"{id}\"><figure><figcaption id=\"{id}-cap\">{}</figcaption>{svg}</figure>\
         <table class=\"numbers\"><thead><tr><th></th><th class=\"num\">{}</th></tr></thead><tbody>{rows}</tbody>\
         <tfoot><tr><th>Total</th><th class=\"num\">{total}</th></tr></tfoot></table></div>\n",
        esc(caption),
        esc(unit)
    )
}

/// A label without its Markdown code marks, for SVG text.
fn plain(label: &str) -> String {
    label.replace('`', "")
}

/// `label` in at most `n` characters, an ellipsis marking a cut.
fn short(label: &str, n: usize) -> String {
    let p = plain(label);
    if p.chars().count() <= n {
        p
    } else {
        let mut s: String = p.chars().take(n - 1).collect();
        s.push('…');
        s
    }
}

/// One point of a burndown: a label (a date) and its counts per series, in series order.
pub(crate) struct Point<'a> {
    pub label: &'a str,
    pub counts: Vec<usize>,
}

/// Deliverables per state over time: one stacked column per point, `series` giving each
/// state's label and colour bottom-up, with the numbers in a table next to it. For the fleet
/// page when a scan has history.
pub(crate) fn burndown(
    id: &str,
    caption: &str,
    series: &[(&str, &str)],
    points: &[Point],
) -> String {
    const COL_W: usize = 46;
    const GAP: usize = 18;
    const H: usize = 220;
    let max = points
        .iter()
        .map(|p| p.counts.iter().sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1);
    let w = points.len().max(1) * (COL_W + GAP) + GAP;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{}\" viewBox=\"0 0 {w} {}\" role=\"img\" aria-labelledby=\"{id}-cap\">",
        H + 40,
        H + 40
    );
    for (i, p) in points.iter().enumerate() {
        let x = GAP + i * (COL_W + GAP);
        let mut y = H;
        for (s, &n) in p.counts.iter().enumerate() {
            let hgt = n * H / max;
            y -= hgt;
            let (label, color) = series.get(s).copied().unwrap_or(("", "#999"));
            let _ = write!(
                svg,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{COL_W}\" height=\"{hgt}\" fill=\"{}\"><title>{}, {}: {n}</title></rect>",
                esc(color),
                esc(p.label),
                esc(label)
            );
        }
        // A date is two lines, the year above the day, so that labels never overlap.
        let (first, second) = match p.label.split_once('-') {
            Some((y, rest)) if y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()) => (y, rest),
            _ => (p.label, ""),
        };
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#1d2733\">{}<tspan x=\"{}\" dy=\"13\">{}</tspan></text>",
            x + COL_W / 2,
            H + 16,
            esc(first),
            x + COL_W / 2,
            esc(second)
        );
    }
    svg.push_str("</svg>");
    let mut head = String::from("<tr><th>Point</th>");
    for (label, color) in series {
        let _ = write!(
            head,
            "<th class=\"num\"><span style=\"color:{}\">&#9632;</span> {}</th>",
            esc(color),
            esc(label)
        );
    }
    head.push_str("</tr>");
    let mut rows = String::new();
    for p in points {
        let _ = write!(rows, "<tr><td>{}</td>", esc(p.label));
        for n in &p.counts {
            let _ = write!(rows, "<td class=\"num\">{n}</td>");
        }
        rows.push_str("</tr>");
    }
    format!(
        "<div class=\"chart-row\" id=\"{id}\"><figure><figcaption id=\"{id}-cap\">{}</figcaption>{svg}</figure>\
         <table class=\"numbers\"><thead>{head}</thead><tbody>{rows}</tbody></table></div>\n",
        esc(caption)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_list_their_numbers() {
        let html = bars(
            "c",
            "Deliverables",
            "Deliverables",
            &[
                Bar {
                    label: "No",
                    value: 10,
                    color: "#c00",
                },
                Bar {
                    label: "<b>",
                    value: 5,
                    color: "#0c0",
                },
            ],
        );
        assert!(html.contains("width=\"260\""), "{html}");
        assert!(html.contains("width=\"130\""), "{html}");
        assert!(html.contains("&lt;b&gt;") && !html.contains("<b>"));
        assert!(html.contains("<th class=\"num\">15</th>"));
    }

    #[test]
    fn burndown_stacks_each_point() {
        let html = burndown(
            "h",
            "Over time",
            &[("No", "#c00"), ("Yes", "#0c0")],
            &[
                Point {
                    label: "2025-01-01",
                    counts: vec![4, 0],
                },
                Point {
                    label: "2026-01-01",
                    counts: vec![1, 3],
                },
            ],
        );
        assert_eq!(html.matches("<rect").count(), 4);
        assert!(
            html.contains("height=\"220\""),
            "the tallest column fills the chart"
        );
        assert!(
            html.contains("<td>2026-01-01</td><td class=\"num\">1</td><td class=\"num\">3</td>")
        );
    }
}
