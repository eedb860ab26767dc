//! Headless Chromium for the HTML report's tests, and the colours of its screenshots.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::{finish, stderr_of, stdout_of};

/// Headless Chromium, if installed (`/usr/bin/chromium`, else `chromium` or
/// `chromium-browser` on PATH). Where it is missing, says so loudly and returns `None`
/// so the test skips, except under CI (env `CI` set), where the test fails.
pub fn chromium(test: &str) -> Option<PathBuf> {
    let candidates = [PathBuf::from("/usr/bin/chromium"), PathBuf::from("chromium"), PathBuf::from("chromium-browser")];
    let found = candidates
        .into_iter()
        .find(|c| std::process::Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()));
    if found.is_none() {
        let message = format!("{test}: Chromium is not installed (apt-get install chromium)");
        assert!(std::env::var_os("CI").is_none(), "{message}; CI must install it");
        eprintln!("\n*** SKIPPED: {message} ***\n");
    }
    found
}

/// Runs headless Chromium on `page` (a local file) with `args`, in a fresh profile and
/// with no network: returns its stdout and stderr.
pub fn run_chromium(chromium: &Path, page: &Path, args: &[&str]) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(chromium);
    command.args([
        "--headless",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--no-first-run",
        "--no-default-browser-check",
        "--enable-logging=stderr",
        "--v=0",
        // Nothing resolves: the page may reach no host, and neither may the browser.
        "--host-resolver-rules=MAP * ~NOTFOUND",
    ]);
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } == 0 {
        command.arg("--no-sandbox");
    }
    command.arg(format!("--user-data-dir={}", profile.path().display()));
    command.args(args).arg(format!("file://{}", page.display()));
    command.stdin(Stdio::null());
    let output = finish(command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("chromium starts"));
    assert!(output.status.success(), "chromium failed: {}", stderr_of(&output));
    (stdout_of(&output), stderr_of(&output))
}

/// The distinct colours of a PNG's pixels (at most `cap`, counting stops there).
pub fn png_colours(path: &Path, cap: usize) -> usize {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buffer).unwrap();
    let bytes = &buffer[..info.buffer_size()];
    let pixel = info.color_type.samples() * if info.bit_depth == png::BitDepth::Sixteen { 2 } else { 1 };
    let mut colours = std::collections::HashSet::new();
    for chunk in bytes.chunks_exact(pixel) {
        colours.insert(chunk.to_vec());
        if colours.len() >= cap {
            break;
        }
    }
    colours.len()
}
