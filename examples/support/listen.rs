//! The examples' one command-line option: `--listen ADDR` (an IP address and a port, e.g.
//! `127.0.0.1:3000`; port 0 picks a free one). Shared by `axum-basic` and `actix-basic`.

use std::net::SocketAddr;

/// The address from `--listen ADDR` (or `--listen=ADDR`), else `default`; a message for
/// anything else on the command line.
pub(crate) fn listen_addr(default: &str) -> Result<SocketAddr, String> {
    let mut args = std::env::args().skip(1);
    let mut addr = default.to_owned();
    while let Some(arg) = args.next() {
        if let Some(value) = arg.strip_prefix("--listen=") {
            addr = value.to_owned();
        } else if arg == "--listen" {
            addr = args
                .next()
                .ok_or("--listen needs an address, e.g. --listen 127.0.0.1:3000")?;
        } else {
            return Err(format!(
                "unexpected argument {arg:?}; the only option is --listen ADDR"
            ));
        }
    }
    addr.parse().map_err(|_| {
        format!("{addr:?} is not an address to listen on: expected IP:PORT, e.g. 127.0.0.1:3000")
    })
}
