//! The `sluice` command, built inside the test crate so its tests can run it as a process.

fn main() -> std::process::ExitCode {
    sluice::cli::main()
}
