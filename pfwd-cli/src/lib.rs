//! The `pfwd` command as a library: [`run`] takes an argument list and
//! returns the exit code, so that the binary, the Python package and tests
//! all run the same command.
//!
//! # Examples
//!
//! Compiled, not run: `status` asks the router.
//!
//! ```no_run
//! let code = pfwd_cli::run(["pfwd", "status", "--json"]);
//! std::process::exit(code);
//! ```
//!
//! The subcommands (`map`, `unmap`, `list`, `status`, `guide`, `run`,
//! `check`), their
//! JSON shapes and the exit codes are described in `docs/cli.md` and in
//! `pfwd --help`.

mod adopt;
pub mod args;
mod check;
mod config;
mod events;
mod inspect;
mod logger;
mod map;
pub mod output;
mod probe_server;
mod service;
pub mod stdio;
pub mod target;
mod unmap;

use std::ffi::OsString;
use std::net::Ipv4Addr;

use clap::Parser;
use pfwd_core::{Client, ClientOptions, Error, GatewayInfo, Method, StateDir};

use crate::args::{Cli, Command, Global};
use crate::output::{Printer, code};

/// Run the command with `args` (the first is the program name) and return
/// the exit code. Nothing panics out of it; errors are printed (one line on
/// stderr, or JSON on stdout with `--json`). A reader that closes stdout
/// early ends the output quietly; any other failed write to stdout is one
/// line on stderr and exit code 1 ([`stdio`]).
///
/// # Examples
///
/// Compiled, not run: the command asks the router. Exit codes are in
/// [`output::code`].
///
/// ```no_run
/// use pfwd_cli::output::code;
///
/// match pfwd_cli::run(["pfwd", "map", "http", "--to", "192.168.1.4", "--once", "--json"]) {
///     code::OK => println!("forwarded"),
///     code::MANUAL => println!("the guide is on stdout: forward it by hand"),
///     code::CONFLICT => println!("the port is taken"),
///     other => println!("failed with {other}"),
/// }
/// ```
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    stdio::exit_code(run_command(args))
}

fn run_command<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let json = args.iter().any(|a| a == "--json");
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e, json),
    };
    let printer = Printer {
        json: cli.global.json,
        level: if cli.global.quiet {
            -1
        } else {
            i8::try_from(cli.global.verbose).unwrap_or(i8::MAX)
        },
    };
    logger::install(logger::level(
        cli.global.verbose,
        cli.global.quiet,
        cli.global.json,
    ));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return printer.error(&Error::io("starting the async runtime", e)),
    };
    let ctx = match Ctx::new(printer, &cli.global) {
        Ok(ctx) => ctx,
        Err(e) => return printer.error(&e),
    };
    if cfg!(panic = "abort") {
        // The `dist` build cannot catch a panic: say the same as below, then abort.
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            report(info);
            stdio::errln(
                "pfwd: internal error (a bug): please report it with the command line you ran",
            );
        }));
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(dispatch(ctx, cli.command))
    }));
    result.unwrap_or_else(|_| {
        stdio::errln(
            "pfwd: internal error (a bug): please report it with the command line you ran",
        );
        code::FAILED
    })
}

/// Print a command-line error as one line (exit 2), or help and version
/// text as clap writes it (exit 0).
fn usage_error(e: &clap::Error, json: bool) -> i32 {
    use clap::error::ErrorKind as K;
    if matches!(e.kind(), K::DisplayHelp | K::DisplayVersion) {
        if let Err(write) = e.print() {
            stdio::stdout_failed(&write);
        }
        return code::OK;
    }
    let rendered = e.render().to_string();
    let first = rendered
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("bad command line")
        .trim_start_matches("error: ")
        .to_string();
    let tip = rendered
        .lines()
        .find(|l| l.contains("tip:"))
        .map(|l| format!(" ({})", l.trim().trim_start_matches("tip: ")))
        .unwrap_or_default();
    let message = format!("{first}{tip}; see pfwd --help");
    Printer { json, level: 0 }.bad_input(&message)
}

async fn dispatch(ctx: Ctx, command: Command) -> i32 {
    let one_shot = match command {
        // The long-running commands handle their own signals.
        Command::Map(a) if !a.once => return map::keep(&ctx, a).await,
        Command::Run(a) => return service::run(&ctx, a).await,
        Command::ProbeServer(a) => return probe_server::run(&ctx, a).await,
        Command::Map(a) => OneShot::Map(a),
        Command::Unmap(a) => OneShot::Unmap(a),
        Command::List => OneShot::List,
        Command::Status => OneShot::Status,
        Command::Guide(a) => OneShot::Guide(a),
        Command::Check(a) => OneShot::Check(a),
    };
    // One-shot commands stop at Ctrl-C.
    let work = async {
        match one_shot {
            OneShot::Map(a) => map::once(&ctx, a).await,
            OneShot::Unmap(a) => unmap::unmap(&ctx, a).await,
            OneShot::List => inspect::list(&ctx).await,
            OneShot::Status => inspect::status(&ctx).await,
            OneShot::Guide(a) => inspect::guide(&ctx, a).await,
            OneShot::Check(a) => check::check(&ctx, a).await,
        }
    };
    tokio::select! {
        c = work => c,
        _ = tokio::signal::ctrl_c() => {
            ctx.printer.warn("interrupted");
            code::INTERRUPTED
        }
    }
}

/// The commands that do one job and exit.
enum OneShot {
    Map(args::MapArgs),
    Unmap(args::UnmapArgs),
    List,
    Status,
    Guide(args::GuideArgs),
    Check(args::CheckArgs),
}

/// What every command shares: the printer, the gateway override, the state directory.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub printer: Printer,
    pub gateway: Option<Ipv4Addr>,
    pub state: StateDir,
}

impl Ctx {
    fn new(printer: Printer, global: &Global) -> Result<Ctx, Error> {
        let gateway = global
            .gateway
            .as_deref()
            .map(|g| {
                g.trim().parse::<Ipv4Addr>().map_err(|_| {
                    Error::invalid(format!(
                        "--gateway {g:?} is not an IPv4 address: give the router's LAN \
                         address, such as 192.168.1.1"
                    ))
                })
            })
            .transpose()?;
        Ok(Ctx {
            printer,
            gateway,
            state: global
                .state
                .clone()
                .map_or_else(StateDir::default_location, StateDir::new),
        })
    }

    /// The client options for `methods` (empty: all).
    pub fn options(&self, methods: &[Method], wait_for_all: bool) -> Result<ClientOptions, Error> {
        let mut options = ClientOptions::default();
        options.only = methods.to_vec();
        options.wait_for_all = wait_for_all;
        // The router's UPnP descriptions, remembered next to the records:
        // the next command asks the remembered service at once.
        options.upnp.cache_dir = Some(self.state.path().to_path_buf());
        if let Some(g) = self.gateway {
            options.gateway = Some(GatewayInfo::for_gateway(g)?);
        }
        Ok(options)
    }

    /// The automatic client for `methods` (empty: all), probing with a
    /// progress indicator.
    pub async fn client(&self, methods: &[Method], wait_for_all: bool) -> Result<Client, Error> {
        self.client_with(self.options(methods, wait_for_all)?).await
    }

    /// The automatic client with these options, probing with a progress
    /// indicator.
    pub async fn client_with(&self, options: ClientOptions) -> Result<Client, Error> {
        let client = {
            let _spinner = self.printer.progress("asking the router");
            Client::discover_with(options).await?
        };
        self.report(&client);
        Ok(client)
    }

    /// With -v: what each method answered, and when.
    pub fn report(&self, client: &Client) {
        for s in &client.discovery().methods {
            let took = s.took_ms.map(|t| format!(" ({t} ms)")).unwrap_or_default();
            self.printer.detail(&format!(
                "{}: {}{took}",
                s.method,
                inspect::probe_text(&s.probe)
            ));
        }
    }
}
