//! `pfwd check` and `pfwd map --check` end to end: the prober
//! (`pfwd probe-server`) runs in the wan namespace, pfwd in the LAN, and
//! the router is miniupnpd. Each diagnosis the issue names comes from a
//! real situation: mapped and free (verified by the token), not mapped, the
//! real server holding the port, UDP, a port the router refuses, and a
//! carrier-grade NAT in front of the router.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pfwd_testbed::{
    CARRIER_PUBLIC_IP, EXTERNAL_IP, GatewayConfig, LAN_NET, Testbed, WAN_HOST, carrier_testbed,
    testbed,
};
use serde_json::Value;

use super::support::*;

/// The prober's address in the wan namespace.
fn via() -> String {
    format!("http://{WAN_HOST}:8099")
}

/// `pfwd probe-server` in the wan namespace, stopped on drop.
pub struct Prober(Child);

impl Prober {
    pub fn start(tb: &Testbed) -> Prober {
        let child = tb
            .wan()
            .command(PFWD)
            .args(["probe-server", "--listen", &format!("{WAN_HOST}:8099")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let prober = Prober(child);
        // Ready when it accepts a connection (from inside the wan namespace).
        let deadline = Instant::now() + Duration::from_secs(10);
        let ready = tb.wan().run(|| {
            while Instant::now() < deadline {
                if std::net::TcpStream::connect((WAN_HOST, 8099)).is_ok() {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            false
        });
        assert!(ready, "the prober did not start listening in 10 s");
        prober
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `pfwd check ARGS --json`: the exit code and the report of each protocol.
fn check(tb: &Testbed, args: &[&str]) -> (i32, Vec<Value>, String) {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = pfwd(tb, &all);
    let reports: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    // Each verdict in the log, for the record (`--nocapture`).
    for r in &reports {
        eprintln!(
            "pfwd {}: {} -- {}",
            all.join(" "),
            r["diagnosis"],
            r["explanation"]
        );
    }
    (out.status.code().unwrap_or(-1), reports, text(&out.stderr))
}

/// A web server on the LAN host's `port` that answers everything with a
/// 400, until `stop` is set.
fn serve(tb: &Testbed, port: u16, stop: &AtomicBool, ready: std::sync::mpsc::Sender<()>) {
    tb.lan().run(|| {
        let l = TcpListener::bind(("0.0.0.0", port)).unwrap();
        l.set_nonblocking(true).unwrap();
        let _ = ready.send(());
        while !stop.load(Ordering::SeqCst) {
            match l.accept() {
                Ok((mut c, _)) => {
                    c.set_nonblocking(false).unwrap();
                    c.set_read_timeout(Some(Duration::from_millis(500)))
                        .unwrap();
                    let mut buf = [0u8; 256];
                    let _ = c.read(&mut buf);
                    let _ = c.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
}

#[test]
fn tcp_not_forwarded_then_verified_then_unverified_then_not_checked() {
    let Some(tb) = testbed("cli_check_tcp", GatewayConfig::all_on()) else {
        return;
    };
    let _prober = Prober::start(&tb);
    let v = via();

    // Not mapped: the router lists nothing, the prober is refused.
    let (code, r, err) = check(&tb, &["8080", "--via", &v]);
    assert_eq!(code, 6, "{err}");
    assert_eq!(r[0]["diagnosis"], "not_forwarded", "{}", r[0]);
    assert_eq!(r[0]["reachable"], false);
    assert_eq!(r[0]["facts"]["router"]["state"], "not_listed");
    assert!(
        r[0]["explanation"]
            .as_str()
            .unwrap()
            .contains("pfwd map 8080 --to 192.168.77.10")
    );

    // Mapped, the port free: pfwd listens, the token comes back.
    let out = pfwd(&tb, &["map", "8080", "--once"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let started = Instant::now();
    let (code, r, err) = check(&tb, &["8080", "--via", &v]);
    let took = started.elapsed();
    assert_eq!(code, 0, "{err} {r:?}");
    let report = &r[0];
    assert_eq!(report["diagnosis"], "reachable", "{report}");
    assert_eq!(report["verified"], true);
    assert_eq!(report["observed_address"], EXTERNAL_IP.to_string());
    assert_eq!(report["router_address"], EXTERNAL_IP.to_string());
    assert_eq!(report["facts"]["lan"]["state"], "held_by_pfwd");
    assert_eq!(report["facts"]["router"]["state"], "listed");
    assert_eq!(report["facts"]["probe"]["outcome"], "accepted");
    assert_eq!(report["facts"]["probe"]["token_returned"], true);
    eprintln!("a successful TCP check took {} ms", took.as_millis());

    // The real server holds the port: reachable, but not verified.
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel();
        let server = s.spawn(|| serve(&tb, 8080, &stop, tx));
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        let (code, r, err) = check(&tb, &["8080", "--via", &v]);
        stop.store(true, Ordering::SeqCst);
        server.join().unwrap();
        assert_eq!(code, 7, "{err}");
        assert_eq!(r[0]["diagnosis"], "reachable_unverified", "{}", r[0]);
        assert_eq!(r[0]["reachable"], true);
        assert_eq!(r[0]["verified"], false);
        assert_eq!(r[0]["facts"]["lan"]["state"], "listening");
        assert!(
            r[0]["facts"]["probe"]["reply_sample"]
                .as_str()
                .unwrap_or_default()
                .starts_with("HTTP/1.1 400"),
            "{}",
            r[0]
        );
    });

    // Without a prober: the LAN-side steps, never "reachable".
    let out = pfwd(&tb, &["check", "8080"]);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("not checked from outside"), "{said}");
    assert!(said.contains("pfwd probe-server"), "{said}");

    // A prober that is not there: an error naming it, exit 1.
    let (code, r, _) = check(&tb, &["8080", "--via", &format!("http://{WAN_HOST}:8100")]);
    assert_eq!(code, 1);
    assert_eq!(r[0]["error"]["kind"], "prober", "{}", r[0]);
    assert!(
        r[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("could not be reached")
    );
    let out = pfwd(&tb, &["unmap", "8080"]);
    assert_eq!(out.status.code(), Some(0));
    cleanup(&tb);
}

#[test]
fn udp_verified_and_not_forwarded() {
    let Some(tb) = testbed("cli_check_udp", GatewayConfig::all_on()) else {
        return;
    };
    let _prober = Prober::start(&tb);
    let v = via();
    let out = pfwd(&tb, &["map", "wireguard", "--once"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let started = Instant::now();
    let (code, r, err) = check(&tb, &["wireguard", "--via", &v]);
    eprintln!(
        "a successful UDP check took {} ms",
        started.elapsed().as_millis()
    );
    assert_eq!(code, 0, "{err} {r:?}");
    assert_eq!(r.len(), 1, "wireguard is UDP only");
    assert_eq!(r[0]["diagnosis"], "reachable", "{}", r[0]);
    assert_eq!(r[0]["facts"]["protocol"], "udp");
    assert_eq!(r[0]["facts"]["probe"]["outcome"], "answered");
    // A UDP port nobody forwarded: the router's own kernel answers "port
    // unreachable", and the router lists nothing.
    let (code, r, err) = check(&tb, &["5353", "--udp", "--via", &v]);
    assert_eq!(code, 6, "{err}");
    assert_eq!(r[0]["diagnosis"], "not_forwarded", "{}", r[0]);
    assert_eq!(r[0]["facts"]["probe"]["outcome"], "refused");
    assert_eq!(r[0]["facts"]["router"]["state"], "not_listed");
    let _ = pfwd(&tb, &["unmap", "wireguard"]);
    cleanup(&tb);
}

#[test]
fn a_port_the_router_refuses_is_not_forwarded() {
    let mut config = GatewayConfig::all_on();
    // The router lets LAN hosts map 1024 and up only.
    config.rules = vec![format!("allow 1024-65535 {LAN_NET} 1-65535")];
    let Some(tb) = testbed("cli_check_refused_port", config) else {
        return;
    };
    let _prober = Prober::start(&tb);
    let out = pfwd(
        &tb,
        &[
            "map",
            "80",
            "--to",
            "192.168.77.10:8080",
            "--external",
            "80",
            "--once",
        ],
    );
    assert_ne!(out.status.code(), Some(0), "the router granted port 80");
    let (code, r, err) = check(&tb, &["80", "--to", "192.168.77.10:8080", "--via", &via()]);
    assert_eq!(code, 6, "{err}");
    assert_eq!(r[0]["diagnosis"], "not_forwarded", "{}", r[0]);
    assert_eq!(r[0]["facts"]["external_port"], 80);
    eprintln!("refused port: {}", r[0]["explanation"]);
    cleanup(&tb);
}

#[test]
fn behind_a_carrier_the_check_says_double_nat() {
    let Some(tb) = carrier_testbed("cli_check_carrier", GatewayConfig::all_on()) else {
        return;
    };
    let _prober = Prober::start(&tb);
    let out = pfwd(&tb, &["map", "8080", "--once"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (code, r, err) = check(&tb, &["8080", "--via", &via(), "-vv"]);
    assert_eq!(code, 6, "{err}");
    let report = &r[0];
    assert_eq!(report["diagnosis"], "double_nat", "{report}");
    assert_eq!(report["observed_address"], CARRIER_PUBLIC_IP.to_string());
    assert_eq!(report["router_address"], EXTERNAL_IP.to_string());
    // The router holds the mapping: read back from its list, or, when the
    // list was not had in time (UPnP's search on a loaded machine), from
    // the record `pfwd map` left. Either way it is the mapping just made.
    let router = &report["facts"]["router"];
    match router["state"].as_str() {
        Some("listed") => {}
        Some("recorded") => {
            assert_eq!(router["method"], "pcp", "{router}");
            eprintln!("the router's list was not had; the log says:\n{err}");
        }
        _ => panic!("the router should hold the mapping: {router}\n{err}"),
    }
    assert_eq!(router["external_port"], 8080, "{router}");
    let explanation = report["explanation"].as_str().unwrap();
    assert!(explanation.contains("Another NAT"), "{explanation}");
    eprintln!("double NAT: {explanation}");
    let _ = pfwd(&tb, &["unmap", "8080"]);
    cleanup(&tb);
}

#[test]
fn kept_mappings_are_checked_when_made_by_map_and_run() {
    let Some(tb) = testbed("cli_check_kept", GatewayConfig::all_on()) else {
        return;
    };
    let _prober = Prober::start(&tb);
    let v = via();
    let mut kept = Running::start(&tb, &["map", "8090", "--check", &v, "--json"]);
    kept.wait_for("checked", 1, event("checked"));
    let checked = kept.seen.iter().find(|e| e["event"] == "checked").unwrap();
    assert_eq!(checked["report"]["diagnosis"], "reachable", "{checked}");
    let (code, _) = kept.terminate();
    assert_eq!(code, 0);

    std::fs::write(
        config_path(&tb),
        format!("check_via = \"{v}\"\n[[forward]]\nport = 8091\nname = \"web\"\n"),
    )
    .unwrap();
    let config = config_path(&tb);
    let mut run = Running::start(
        &tb,
        &["run", "--config", config.to_str().unwrap(), "--json"],
    );
    run.wait_for("checked", 1, event("checked"));
    let checked = run.seen.iter().find(|e| e["event"] == "checked").unwrap();
    assert_eq!(checked["entry"], "web");
    assert_eq!(checked["report"]["diagnosis"], "reachable", "{checked}");
    assert_eq!(checked["report"]["facts"]["external_port"], 8091);
    let (code, _) = run.terminate();
    assert_eq!(code, 0);
    let _ = std::fs::remove_file(config_path(&tb));
    cleanup(&tb);
}

/// The diagnoses that need something besides the router: the router's own
/// admin page on the public port, UDP with a silent server holding the
/// port, and a provider that blocks port 25 between the prober and the router.
#[test]
fn something_else_inconclusive_and_blocked_upstream() {
    use pfwd_core::Protocol;
    use pfwd_testbed::outside::{Behaviour, Server};

    let Some(tb) = testbed("cli_check_other_diagnoses", GatewayConfig::all_on()) else {
        return;
    };
    let _prober = Prober::start(&tb);
    let v = via();

    // The router's remote administration answers on its public address.
    let admin = Server::start(
        tb.gw(),
        Protocol::Tcp,
        format!("{EXTERNAL_IP}:8086").parse().unwrap(),
        Behaviour::Say(b"HTTP/1.1 200 OK\r\n\r\nrouter admin"),
    );
    let (code, r, err) = check(&tb, &["8086", "--via", &v]);
    assert_eq!(code, 6, "{err}");
    assert_eq!(r[0]["diagnosis"], "reached_something_else", "{}", r[0]);
    assert_eq!(r[0]["facts"]["lan"]["state"], "held_by_pfwd");
    assert!(
        admin.hits() >= 1,
        "the prober never reached the router's page"
    );
    drop(admin);

    // UDP: mapped, and a server that holds the port and answers nothing.
    let out = pfwd(&tb, &["map", "5355", "--udp", "--once"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let silent = Server::start(
        tb.lan(),
        Protocol::Udp,
        "0.0.0.0:5355".parse::<std::net::SocketAddr>().unwrap(),
        Behaviour::Silent,
    );
    let (code, r, err) = check(&tb, &["5355", "--udp", "--via", &v]);
    assert_eq!(code, 7, "{err}");
    assert_eq!(r[0]["diagnosis"], "inconclusive", "{}", r[0]);
    assert_eq!(r[0]["facts"]["lan"]["state"], "listening");
    assert!(
        silent.hits() >= 1,
        "the token datagram did not reach the server"
    );
    drop(silent);
    let _ = pfwd(&tb, &["unmap", "5355", "--udp"]);

    // The provider drops port 25 on its way to the router (silently).
    tb.wan()
        .exec("nft", &["add", "table", "inet", "isp"])
        .unwrap();
    tb.wan()
        .exec(
            "nft",
            &[
                "add",
                "chain",
                "inet",
                "isp",
                "out",
                "{ type filter hook output priority 0; policy accept; }",
            ],
        )
        .unwrap();
    tb.wan()
        .exec(
            "nft",
            &[
                "add", "rule", "inet", "isp", "out", "ip", "daddr", "5.5.5.7", "tcp", "dport",
                "25", "drop",
            ],
        )
        .unwrap();
    let out = pfwd(&tb, &["map", "smtp", "--once"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (code, r, err) = check(&tb, &["smtp", "--via", &v]);
    assert_eq!(code, 6, "{err}");
    assert_eq!(r[0]["diagnosis"], "blocked_upstream", "{}", r[0]);
    assert_eq!(r[0]["facts"]["probe"]["outcome"], "timed_out");
    let _ = pfwd(&tb, &["unmap", "smtp"]);
    cleanup(&tb);
}
