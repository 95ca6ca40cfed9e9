//! The WAN proxy of the benchmarks as a process (see `fleetscan_tests::wan`).
//!
//!   wan_proxy TARGET_PORT [DELAY_MS] [BYTES_PER_SECOND]
//!
//! Prints the port it listens on, then forwards until it is killed. Defaults: 50 ms each way, 2,000,000 bytes/s per connection.

use std::time::Duration;

use fleetscan_tests::wan::{Link, WanProxy};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: wan_proxy TARGET_PORT [DELAY_MS] [BYTES_PER_SECOND]";
    let target: u16 = args
        .first()
        .ok_or_else(|| anyhow::anyhow!(usage))?
        .parse()?;
    let mut link = Link::default();
    if let Some(ms) = args.get(1) {
        link.delay = Duration::from_millis(ms.parse()?);
    }
    if let Some(rate) = args.get(2) {
        link.rate = rate.parse()?;
        anyhow::ensure!(link.rate > 0, "BYTES_PER_SECOND must be at least 1");
    }
    let proxy = WanProxy::start(target, link)?;
    println!("{}", proxy.port());
    loop {
        std::thread::park();
    }
}
