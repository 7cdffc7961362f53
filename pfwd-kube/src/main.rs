//! `pfwd-kube`: the controller, as its Deployment runs it. Settings come
//! from the pod (the downward API's `POD_NAME`, `POD_NAMESPACE`,
//! `NODE_NAME`) and a few flags; the cluster from the in-cluster service
//! account, or `KUBECONFIG` outside a cluster.

use std::process::ExitCode;
use std::time::Duration;

use pfwd_kube::controller::{self, Options};

const HELP: &str = "\
pfwd-kube: keep annotated Kubernetes Services reachable through the home router

Usage: pfwd-kube [OPTIONS]

Options:
  --namespace NS          where the Lease and the state ConfigMap live
                          (default: $POD_NAMESPACE, else pfwd-system)
  --identity NAME         this replica's name in the election (default: $POD_NAME)
  --node NAME             the node it runs on (default: $NODE_NAME)
  --lease-name NAME       the Lease for the election (default: pfwd-kube)
  --state-configmap NAME  the ConfigMap holding what is mapped (default: pfwd-kube-state)
  --leader-lease DURATION how long a leader's Lease lasts unrenewed (default: 15s)
  --check-interval DURATION
                          how often the router is asked whether it still holds
                          the mappings (default: 30s)
  -v, --verbose           log more (twice: the libraries too)
  -h, --help              this text

See docs/kubernetes.md for the annotations, the Events and the manifests.";

/// Logs to stderr, one line each.
struct Logger {
    level: log::LevelFilter,
    all: bool,
}

impl log::Log for Logger {
    fn enabled(&self, meta: &log::Metadata<'_>) -> bool {
        meta.level() <= self.level
            && (self.all || meta.target().starts_with("pfwd") || meta.level() <= log::Level::Warn)
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!("{} {}", record.level(), record.args());
        }
    }
    fn flush(&self) {}
}

fn duration(flag: &str, text: &str) -> Result<Duration, String> {
    pfwd_core::parse::parse_duration(text).map_err(|e| format!("{flag}: {e}"))
}

fn options(args: Vec<String>) -> Result<(Options, u8), String> {
    let mut o = Options {
        namespace: std::env::var("POD_NAMESPACE").unwrap_or_else(|_| "pfwd-system".into()),
        identity: std::env::var("POD_NAME")
            .unwrap_or_else(|_| format!("pfwd-kube-{}", std::process::id())),
        node_name: std::env::var("NODE_NAME").ok().filter(|n| !n.is_empty()),
        ..Options::default()
    };
    let mut verbose = 0;
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{flag} needs a value; see --help"))
        };
        match flag.as_str() {
            "--namespace" => o.namespace = value()?,
            "--identity" => o.identity = value()?,
            "--node" => o.node_name = Some(value()?),
            "--lease-name" => o.lease_name = value()?,
            "--state-configmap" => o.state_name = value()?,
            "--leader-lease" => {
                let d = duration(&flag, &value()?)?;
                if d < Duration::from_secs(3) {
                    return Err("--leader-lease: 3s at least".into());
                }
                o.leader_lease = d;
                o.leader_grace = (d / 3).max(Duration::from_secs(1));
            }
            "--check-interval" => o.check_interval = duration(&flag, &value()?)?,
            "-v" | "--verbose" => verbose += 1,
            "-vv" => verbose += 2,
            other => return Err(format!("unknown option {other:?}; see --help")),
        }
    }
    Ok((o, verbose))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{HELP}");
        return ExitCode::SUCCESS;
    }
    let (options, verbose) = match options(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("pfwd-kube: {e}");
            return ExitCode::from(2);
        }
    };
    let level = if verbose > 0 {
        log::LevelFilter::Debug
    } else {
        log::LevelFilter::Info
    };
    let _ = log::set_boxed_logger(Box::new(Logger {
        level,
        all: verbose > 1,
    }));
    log::set_max_level(level);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pfwd-kube: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let client = match kube::Client::try_default().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("pfwd-kube: cannot reach the Kubernetes API (in a pod: its service account; outside: KUBECONFIG): {e}");
                return ExitCode::FAILURE;
            }
        };
        match controller::run(client, options, stopped()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("pfwd-kube: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// SIGTERM (the kubelet stopping the pod) or Ctrl-C.
async fn stopped() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
