//! The measured cases: connector-bench's stream into `cat` (the physical reference), into
//! the baseline loop, and through the runner into each destination.
//!
//! Runs are interleaved round-robin (run 1 of every case, then run 2 of every case, ...)
//! so that drift in the machine's load or page cache affects every case alike; each case
//! reports its median.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result};
use serde::{Serialize, Serializer};

use crate::outputs::{Expected, Output};
use crate::process::{check_success, Running, Usage};
use crate::report::MB;
use crate::workload::{create, Workload, CUTOFF};

/// Where the runner writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// `--output -`.
    Stdout,
    /// `--output <dir>`.
    JsonLines,
    /// `--output <file>.db`.
    Sqlite,
    /// `--output postgres://...`: a throwaway cluster with `fsync=on`.
    Postgres,
}

impl Destination {
    /// Every destination, in report order.
    pub const ALL: [Destination; 4] =
        [Destination::Stdout, Destination::JsonLines, Destination::Sqlite, Destination::Postgres];

    /// How reports name it.
    pub fn label(self) -> &'static str {
        match self {
            Destination::Stdout => "stdout",
            Destination::JsonLines => "JSON lines",
            Destination::Sqlite => "SQLite",
            Destination::Postgres => "PostgreSQL",
        }
    }
}

/// One measured case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// `connector-bench | cat > file`: the same bytes through a pipe into a file.
    Reference,
    /// `connector-bench | runner-bench baseline > file`: the obvious single-threaded loop.
    Baseline,
    /// `runner sync connector-bench ... --output <destination>`.
    Runner(Destination),
}

impl Case {
    /// The cases of `runner-bench pipeline`, in report order.
    pub const PIPELINE: [Case; 6] = [
        Case::Reference,
        Case::Baseline,
        Case::Runner(Destination::Stdout),
        Case::Runner(Destination::JsonLines),
        Case::Runner(Destination::Sqlite),
        Case::Runner(Destination::Postgres),
    ];

    /// A short name without spaces (JSON, file names).
    pub fn name(self) -> &'static str {
        match self {
            Case::Reference => "reference",
            Case::Baseline => "baseline",
            Case::Runner(Destination::Stdout) => "runner-stdout",
            Case::Runner(Destination::JsonLines) => "runner-jsonl",
            Case::Runner(Destination::Sqlite) => "runner-sqlite",
            Case::Runner(Destination::Postgres) => "runner-postgres",
        }
    }

    /// How the tables name it.
    pub fn label(self) -> &'static str {
        match self {
            Case::Reference => "reference (cat)",
            Case::Baseline => "baseline loop",
            Case::Runner(Destination::Stdout) => "runner → stdout",
            Case::Runner(Destination::JsonLines) => "runner → JSON lines",
            Case::Runner(Destination::Sqlite) => "runner → SQLite",
            Case::Runner(Destination::Postgres) => "runner → PostgreSQL",
        }
    }

    /// Whether connector-bench is a separate process piped into the consumer (so its CPU
    /// time is measured apart), rather than the runner's own child.
    fn is_piped(self) -> bool {
        !matches!(self, Case::Runner(_))
    }
}

impl Serialize for Case {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// One run of one case.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sample {
    /// Wall time from starting the first process to reaping the last.
    pub seconds: f64,
    /// The consumer's peak RSS in KiB (for the runner: the maximum over it and its connector).
    pub peak_rss_kib: u64,
    /// The consumer's user+sys CPU (for the runner: including its connector's).
    pub consumer_cpu_seconds: f64,
    /// connector-bench's user+sys CPU, when it is a separate process of the pipe.
    pub connector_cpu_seconds: Option<f64>,
}

impl Sample {
    /// CPU of the whole pipeline, connector included: comparable across cases.
    fn pipeline_cpu_seconds(&self) -> f64 {
        self.consumer_cpu_seconds + self.connector_cpu_seconds.unwrap_or(0.0)
    }
}

/// The measured cases of one workload.
pub struct Bench<'a> {
    workload: &'a Workload,
    runner: PathBuf,
    baseline: PathBuf,
}

impl<'a> Bench<'a> {
    /// Cases on `workload`, run by `runner`; the baseline is this executable's `baseline`.
    pub fn new(workload: &'a Workload, runner: PathBuf) -> Result<Bench<'a>> {
        let baseline = std::env::current_exe().context("cannot find runner-bench's own path for the baseline")?;
        Ok(Bench { workload, runner, baseline })
    }

    /// Runs every case `runs` times, round-robin, and summarises each. The PostgreSQL
    /// case is left out, saying so, where no server is installed.
    pub fn measure(&self, cases: &[Case], runs: u32) -> Result<Vec<CaseResult>> {
        let cases: Vec<Case> = cases.iter().copied().filter(|case| self.can_run(*case)).collect();
        let cases = cases.as_slice();
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); cases.len()];
        for run in 1..=runs {
            for (case, case_samples) in cases.iter().zip(&mut samples) {
                let sample = self.run_once(*case, run).with_context(|| {
                    format!("{} ({} records), run {run} of {runs}", case.label(), self.workload.records)
                })?;
                eprintln!(
                    "runner-bench: {} records, run {run}/{runs}: {:<20} {:>8.3} s",
                    self.workload.records,
                    case.label(),
                    sample.seconds
                );
                case_samples.push(sample);
            }
        }
        Ok(summarise(cases, samples, self.workload))
    }

    fn can_run(&self, case: Case) -> bool {
        if case != Case::Runner(Destination::Postgres) {
            return true;
        }
        match postgres() {
            Ok(_) => true,
            Err(throwaway_postgres::ClusterError::NotInstalled) => {
                eprintln!("runner-bench: the PostgreSQL case is skipped: no PostgreSQL server is installed");
                false
            }
            Err(_) => true, // measuring it reports the error
        }
    }

    /// One run: start, wait, check the exit statuses, verify the output, delete it.
    fn run_once(&self, case: Case, run: u32) -> Result<Sample> {
        let output = self.output(case, run)?;
        let sample = self.execute(case, &output)?;
        output.verify(self.expected(case))?;
        output.remove()?;
        Ok(sample)
    }

    fn output(&self, case: Case, run: u32) -> Result<Output> {
        let dir = self.workload.dir();
        Ok(match case {
            Case::Reference | Case::Baseline | Case::Runner(Destination::Stdout) => {
                Output::Lines(dir.join(format!("{}-{run}.out", case.name())))
            }
            Case::Runner(Destination::JsonLines) => Output::JsonLines(dir.join(format!("jsonl-{run}"))),
            Case::Runner(Destination::Sqlite) => Output::Sqlite(dir.join(format!("out-{run}.db"))),
            Case::Runner(Destination::Postgres) => {
                let cluster = postgres().map_err(|e| anyhow::anyhow!("{e}"))?;
                Output::postgres(cluster, &format!("bench_{run}"))?
            }
        })
    }

    /// The reference copies the whole stream (states too); every other case keeps the
    /// records only, one per line or row.
    fn expected(&self, case: Case) -> Expected {
        let stream = &self.workload.stream;
        match case {
            Case::Reference => Expected { lines: stream.lines, bytes: Some(stream.bytes) },
            _ => Expected { lines: self.workload.records, bytes: None },
        }
    }

    fn consumer(&self, case: Case, output: &Output) -> Command {
        match case {
            Case::Reference => Command::new("cat"),
            Case::Baseline => {
                let mut command = Command::new(&self.baseline);
                command.arg("baseline");
                command
            }
            Case::Runner(_) => {
                let mut command = Command::new(&self.runner);
                command.arg("sync").arg(self.workload.connector()).arg(self.workload.config()).arg(CUTOFF);
                command.arg("--output").arg(output.runner_arg()).env("NO_COLOR", "1").stdin(Stdio::null());
                command
            }
        }
    }

    /// Starts the processes of `case` and times them until both are reaped.
    fn execute(&self, case: Case, output: &Output) -> Result<Sample> {
        let stderr_of = |who: &str| self.workload.dir().join(format!("{}-{who}.stderr", case.name()));
        let (producer_stderr, consumer_stderr) = (stderr_of("connector"), stderr_of("consumer"));
        let mut consumer = self.consumer(case, output);
        consumer.stdout(output.stdout()?).stderr(create(&consumer_stderr)?);
        let name = format!("`{}`", case.label());

        let started = Instant::now();
        let mut producer = None;
        if case.is_piped() {
            let mut command = self.workload.connector_command();
            command.stdout(Stdio::piped()).stderr(create(&producer_stderr)?);
            let mut running = Running::spawn("`connector-bench sync`", &mut command)?;
            consumer.stdin(running.take_stdout().context("connector-bench's stdout is not a pipe")?);
            producer = Some(running);
        }
        let running = Running::spawn(name.clone(), &mut consumer);
        // The command still holds the pipe's read end: with it open here, a consumer that
        // dies early would leave connector-bench blocked on a full pipe instead of SIGPIPE.
        drop(consumer);
        let consumer = running?;
        let producer = producer.map(Running::wait).transpose()?;
        let consumer = consumer.wait()?;
        let seconds = started.elapsed().as_secs_f64();

        if let Some(usage) = &producer {
            check_success("`connector-bench sync`", usage, &producer_stderr)?;
        }
        check_success(&name, &consumer, &consumer_stderr)?;
        Ok(sample(seconds, &consumer, producer.as_ref()))
    }
}

/// The throwaway PostgreSQL cluster of this process, with `fsync=on` like a real server.
pub(crate) fn postgres() -> Result<&'static throwaway_postgres::Cluster, &'static throwaway_postgres::ClusterError> {
    throwaway_postgres::Cluster::shared_with(throwaway_postgres::Options { durable: true, ..Default::default() })
}

fn sample(seconds: f64, consumer: &Usage, producer: Option<&Usage>) -> Sample {
    Sample {
        seconds,
        peak_rss_kib: consumer.max_rss_kib,
        consumer_cpu_seconds: consumer.cpu.as_secs_f64(),
        connector_cpu_seconds: producer.map(|usage| usage.cpu.as_secs_f64()),
    }
}

/// One case's summary over its runs.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// The case.
    pub case: Case,
    /// Its label in tables.
    pub label: &'static str,
    /// Median wall time.
    pub median_seconds: f64,
    /// Records per median second.
    pub records_per_second: f64,
    /// Record-line bytes (10^6) per median second.
    pub mb_per_second: f64,
    /// The largest peak RSS of any run, in MB (10^6 bytes).
    pub peak_rss_mb: f64,
    /// Median CPU of connector and consumer together.
    pub cpu_seconds: f64,
    /// Median CPU of the consumer alone: measured for piped cases, estimated for the
    /// runner (its total minus the piped connector's median) when a piped case ran.
    pub consumer_cpu_seconds: Option<f64>,
    /// Whether `consumer_cpu_seconds` is that estimate.
    pub consumer_cpu_estimated: bool,
    /// Median time over the reference's (how much slower than `cat`).
    pub x_reference: Option<f64>,
    /// The baseline's median time over this one (how much faster than the baseline).
    pub x_baseline: Option<f64>,
    /// Every run.
    pub samples: Vec<Sample>,
}

fn summarise(cases: &[Case], samples: Vec<Vec<Sample>>, workload: &Workload) -> Vec<CaseResult> {
    let median_of = |f: &dyn Fn(&Sample) -> f64, runs: &[Sample]| median(runs.iter().map(f).collect());
    let connector_cpu: Vec<f64> = samples.iter().flatten().filter_map(|s| s.connector_cpu_seconds).collect();
    let connector_cpu = (!connector_cpu.is_empty()).then(|| median(connector_cpu));
    let time_of =
        |wanted: Case| cases.iter().position(|&case| case == wanted).map(|i| median_of(&|s| s.seconds, &samples[i]));
    let (reference, baseline) = (time_of(Case::Reference), time_of(Case::Baseline));
    let bytes = workload.stream.record_bytes as f64;
    cases
        .iter()
        .zip(samples)
        .map(|(&case, runs)| {
            let seconds = median_of(&|s| s.seconds, &runs);
            let consumer_cpu = median_of(&|s| s.consumer_cpu_seconds, &runs);
            let estimated = !case.is_piped();
            CaseResult {
                case,
                label: case.label(),
                median_seconds: seconds,
                records_per_second: workload.records as f64 / seconds,
                mb_per_second: bytes / MB / seconds,
                peak_rss_mb: runs.iter().map(|s| s.peak_rss_kib).max().unwrap_or(0) as f64 * 1024.0 / MB,
                cpu_seconds: median_of(&|s| s.pipeline_cpu_seconds(), &runs),
                consumer_cpu_seconds: if estimated {
                    connector_cpu.map(|c| (consumer_cpu - c).max(0.0))
                } else {
                    Some(consumer_cpu)
                },
                consumer_cpu_estimated: estimated,
                x_reference: reference.map(|r| seconds / r),
                x_baseline: baseline.map(|b| b / seconds),
                samples: runs,
            }
        })
        .collect()
}

/// The median (the mean of the two middle values for an even count); 0 for none.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(vec![]), 0.0);
    }

    #[test]
    fn case_names_are_unique() {
        let names: std::collections::BTreeSet<_> = Case::PIPELINE.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), Case::PIPELINE.len());
    }
}
