//! The trivial connector's work as a native program: the benchmark's baseline for a
//! design that spawns one process per run.

use std::io::Write as _;

fn main() -> std::process::ExitCode {
    let mut out = std::io::stdout().lock();
    let written = writeln!(out, r#"{{"level":"info","message":"tick"}}"#)
        .and_then(|()| writeln!(out, r#"{{"stream":"ticks","key":"1","data":{{"n":1}}}}"#));
    match written {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(_) => std::process::ExitCode::FAILURE,
    }
}
