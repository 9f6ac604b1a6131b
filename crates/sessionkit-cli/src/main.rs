//! The `sessionkit` command.

use std::process::ExitCode;

fn main() -> ExitCode {
    sessionkit_cli::main()
}
