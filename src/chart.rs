//! `--chart`: the requests over time by status class, as an SVG file drawn with
//! plotters. Only a [`Timeline`] reaches it, which holds counts and times: the chart
//! can show nothing else. Its text is drawn by the viewer in a generic sans-serif
//! font; no font file is read.

use chrono::{DateTime, TimeDelta, Utc};
use plotters::prelude::*;

use crate::aggregate::{Class, Timeline};
use crate::error::{Error, Result};

const WIDTH: u32 = 1000;
const HEIGHT: u32 = 520;

/// What each class is called in the legend, and its colour.
fn look(class: Class) -> (&'static str, RGBColor) {
    match class {
        Class::Success => ("2xx", RGBColor(46, 125, 50)),
        Class::Redirect => ("3xx", RGBColor(30, 136, 229)),
        Class::ClientError => ("4xx", RGBColor(251, 140, 0)),
        Class::Refused => ("refused: 401, 403, 429", RGBColor(142, 36, 170)),
        Class::ServerError => ("5xx", RGBColor(198, 40, 40)),
        Class::Other => ("other or none", RGBColor(140, 140, 140)),
    }
}

/// A step as the title says it: "minute", "15 minutes", "day".
fn step_text(step: TimeDelta) -> String {
    let secs = step.num_seconds();
    let (n, unit) = match secs {
        s if s % 86_400 == 0 && s / 86_400 == 7 => (1, "week"),
        s if s % 86_400 == 0 => (s / 86_400, "day"),
        s if s % 3600 == 0 => (s / 3600, "hour"),
        s => (s / 60, "minute"),
    };
    if n == 1 {
        unit.to_owned()
    } else {
        format!("{n} {unit}s")
    }
}

/// A bucket's start as the axis shows it: the time of day when the chart covers one
/// day, else the date (and the time when buckets are shorter than a day).
fn tick(t: DateTime<Utc>, step: TimeDelta, one_day: bool) -> String {
    if step >= TimeDelta::days(1) {
        t.format("%Y-%m-%d").to_string()
    } else if one_day {
        t.format("%H:%M").to_string()
    } else {
        t.format("%m-%d %H:%M").to_string()
    }
}

/// A count with thousands separators.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// The chart of `timeline` as an SVG document. `whose` says whose requests they are
/// ("Requests" or "Requests from the requester's addresses").
pub(crate) fn svg(timeline: &Timeline, whose: &str) -> Result<String> {
    let mut out = String::new();
    draw(timeline, whose, &mut out).map_err(|e| Error::Internal(format!("chart: {e}")))?;
    let title = summary(timeline, whose);
    // A title for screen readers and for the file's own description.
    if let Some(end) = out.find('>') {
        out.insert_str(end + 1, &format!("\n<title>{title}</title>"));
    }
    Ok(out)
}

/// The chart's second line: how many, over which period.
fn summary(t: &Timeline, whose: &str) -> String {
    if t.buckets.is_empty() {
        return format!("{whose}: none counted");
    }
    let end = t.start + t.step * i32::try_from(t.buckets.len()).unwrap_or(i32::MAX);
    let total = t.total();
    format!(
        "{whose} per {} by status class: {} request{} from {} to {} UTC",
        step_text(t.step),
        thousands(total),
        if total == 1 { "" } else { "s" },
        t.start.format("%Y-%m-%d %H:%M"),
        end.format("%Y-%m-%d %H:%M")
    )
}

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn draw(t: &Timeline, whose: &str, out: &mut String) -> DrawResult {
    let root = SVGBackend::with_string(out, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, body) = root.split_vertically(48);
    top.draw(&Text::new(
        summary(t, whose),
        (20, 16),
        ("sans-serif", 18).into_font().color(&BLACK),
    ))?;
    let n = i64::try_from(t.buckets.len()).unwrap_or(i64::MAX).max(1);
    let highest = t
        .buckets
        .iter()
        .map(|b| b.iter().sum::<u64>())
        .max()
        .unwrap_or(0);
    let y_top = (highest + highest / 10).max(highest + 1);
    let mut chart = ChartBuilder::on(&body)
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(0i64..n, 0u64..y_top)?;
    let one_day = t.start.date_naive()
        == (t.start + t.step * i32::try_from(n).unwrap_or(0)).date_naive()
        || t.step * i32::try_from(n).unwrap_or(0) <= TimeDelta::days(1);
    let label = |x: &i64| {
        if t.buckets.is_empty() {
            // No period to show: the axis says nothing rather than a made-up time.
            return String::new();
        }
        let at = t.start + t.step * i32::try_from(*x).unwrap_or(0);
        tick(at, t.step, one_day)
    };
    let count = |y: &u64| thousands(*y);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .max_light_lines(1)
        .x_labels(8)
        .y_labels(6)
        .x_label_formatter(&label)
        .y_label_formatter(&count)
        .x_desc("UTC")
        .y_desc("requests")
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 14))
        .draw()?;
    if t.buckets.is_empty() {
        body.draw(&Text::new(
            "No requests were counted.",
            (i32::try_from(WIDTH / 2).unwrap_or(0) - 90, 200),
            ("sans-serif", 16).into_font(),
        ))?;
        root.present()?;
        return Ok(());
    }
    for (name, colour, bars) in stacked_bars(t) {
        chart
            .draw_series(bars)?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 12, y + 6)], colour.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()?;
    root.present()?;
    Ok(())
}

/// One status class's bars, with its name and colour.
type Series = (&'static str, RGBColor, Vec<Rectangle<(i64, u64)>>);

/// The bars of each status class that has requests, stacked on the classes before
/// it, with the class's name and colour.
fn stacked_bars(t: &Timeline) -> Vec<Series> {
    let mut below = vec![0u64; t.buckets.len()];
    let mut series = Vec::new();
    for class in Class::ALL {
        if t.total_of(class) == 0 {
            continue;
        }
        let (name, colour) = look(class);
        let bars = (0..t.buckets.len())
            .filter(|&i| t.count(i, class) > 0)
            .map(|i| {
                let x = i64::try_from(i).unwrap_or(0);
                let from = below[i];
                below[i] += t.count(i, class);
                let mut bar = Rectangle::new([(x, from), (x + 1, below[i])], colour.filled());
                if t.buckets.len() <= 100 {
                    bar.set_margin(0, 0, 1, 1);
                }
                bar
            })
            .collect();
        series.push((name, colour, bars));
    }
    series
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_read_as_words() {
        assert_eq!(step_text(TimeDelta::minutes(1)), "minute");
        assert_eq!(step_text(TimeDelta::minutes(15)), "15 minutes");
        assert_eq!(step_text(TimeDelta::hours(6)), "6 hours");
        assert_eq!(step_text(TimeDelta::days(7)), "week");
        assert_eq!(step_text(TimeDelta::days(3)), "3 days");
    }
}
