//! The fake Kubernetes API server as a standalone process, for kubectl and `vk-aci run`.
//!
//! `fake-apiserver --listen 127.0.0.1:6443 --kubeconfig ./kubeconfig [--tls] [--controllers]
//! [--auto-approve-csrs]` prints the URL, writes an admin kubeconfig and serves until Ctrl-C.
//! `--auto-approve-csrs` approves kubelet-serving CertificateSigningRequests as they come
//! (for `vk-aci run --rotate-server-certificates`); without it, `kubectl certificate approve`.
use std::net::SocketAddr;
use std::process::ExitCode;

use vk_testing::FakeApiServer;

const USAGE: &str = "usage: fake-apiserver [--listen ADDR] --kubeconfig PATH [--tls] [--controllers] [--auto-approve-csrs]";

struct Args {
    listen: SocketAddr,
    kubeconfig: String,
    tls: bool,
    controllers: bool,
    auto_approve_csrs: bool,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut kubeconfig = None;
    let mut tls = false;
    let mut controllers = false;
    let mut auto_approve_csrs = false;
    while let Some(a) = it.next() {
        match a.as_str() {
            "--listen" => {
                let v = it.next().ok_or("--listen needs an address")?;
                listen = v.parse().map_err(|e| format!("bad --listen {v}: {e}"))?;
            }
            "--kubeconfig" => kubeconfig = Some(it.next().ok_or("--kubeconfig needs a path")?),
            "--tls" => tls = true,
            "--controllers" => controllers = true,
            "--auto-approve-csrs" => auto_approve_csrs = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(Args {
        listen,
        kubeconfig: kubeconfig.ok_or_else(|| format!("--kubeconfig is required\n{USAGE}"))?,
        tls,
        controllers,
        auto_approve_csrs,
    })
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let server = match FakeApiServer::builder()
        .listen(args.listen)
        .tls(args.tls)
        .controllers(args.controllers)
        .start()
        .await
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    server.knobs().auto_approve_csrs(args.auto_approve_csrs);
    if let Err(e) = server.write_kubeconfig(&args.kubeconfig) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    println!("{}", server.url());
    // SIGINT (Ctrl-C) ends the server; anything else keeps it running.
    let _ = tokio::signal::ctrl_c().await;
    server.shutdown().await;
    ExitCode::SUCCESS
}
