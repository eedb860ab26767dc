//! Text for people that the engine's own messages need. The command line renders
//! everything else; this is here so that an error built deep in a run ("exited with
//! status 1 after 12.4 s") reads the same as the console's summaries, without the engine
//! reaching up into the drivers.

use std::time::Duration;

/// A duration as people say it: `45 ms`, `1.8 s`, `2 min 3 s`, `1 h 4 min`.
pub fn duration(elapsed: Duration) -> String {
    let millis = elapsed.as_millis();
    if millis < 1000 {
        return format!("{millis} ms");
    }
    let seconds = elapsed.as_secs();
    match seconds {
        0..=59 => format!("{:.1} s", elapsed.as_secs_f64()),
        60..=3599 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_use_the_largest_sensible_unit() {
        assert_eq!(duration(Duration::from_millis(45)), "45 ms");
        assert_eq!(duration(Duration::from_millis(1840)), "1.8 s");
        assert_eq!(duration(Duration::from_secs(59)), "59.0 s");
        assert_eq!(duration(Duration::from_secs(123)), "2 min 3 s");
        assert_eq!(duration(Duration::from_secs(3840)), "1 h 4 min");
    }
}
