//! Small statistics over rounds: median, min, max.

/// Median of `values` (mean of the two middle ones for an even count); `None` if empty.
/// NaNs are ignored.
///
/// ```
/// use sessionkit_loadgen::stats::median;
///
/// assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
/// assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
/// assert_eq!(median(&[]), None);
/// ```
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        f64::midpoint(v[mid - 1], v[mid])
    })
}

/// Smallest and largest of `values` (NaNs ignored); `None` if empty.
///
/// ```
/// use sessionkit_loadgen::stats::min_max;
///
/// assert_eq!(min_max(&[3.0, 1.0, 2.0]), Some((1.0, 3.0)));
/// ```
pub fn min_max(values: &[f64]) -> Option<(f64, f64)> {
    values
        .iter()
        .copied()
        .filter(|x| !x.is_nan())
        .fold(None, |acc, x| match acc {
            None => Some((x, x)),
            Some((lo, hi)) => Some((lo.min(x), hi.max(x))),
        })
}

/// `(max - min) / median` as a percentage: how far apart the rounds were.
///
/// ```
/// use sessionkit_loadgen::stats::spread_percent;
///
/// assert_eq!(spread_percent(&[90.0, 100.0, 110.0]), Some(20.0));
/// ```
pub fn spread_percent(values: &[f64]) -> Option<f64> {
    let m = median(values)?;
    let (lo, hi) = min_max(values)?;
    (m > 0.0).then(|| (hi - lo) / m * 100.0)
}
