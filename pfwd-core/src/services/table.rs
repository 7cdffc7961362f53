//! The table of well-known services: name, aliases, port, transports,
//! title, and the risk of facing the internet with what to use instead.

use super::{Service, Transports};

const RISK_MAIL_CLEAR_TEXT: &str = "sends passwords and mail unencrypted, and attackers scan the \
     internet for it constantly: offer only the TLS port (IMAPS 993, POP3S 995) instead";

const RISK_DATABASE: &str = "databases should not face the internet, and attackers scan for them \
     constantly: reach them through a VPN such as WireGuard, or an SSH tunnel, instead";

const RISK_NETBIOS: &str = "Windows name and file services leak the machine's name and shares \
     and are attacked by worms: never expose them; use a VPN such as WireGuard instead";

/// The table. Ports that appear twice (53) are listed once.
pub const SERVICES: &[Service] = &[
    Service {
        name: "ftp",
        aliases: &[],
        port: 21,
        transports: Transports::Tcp,
        title: "File transfer (FTP)",
        risk: Some(
            "sends passwords and files unencrypted, and attackers scan the internet for it constantly: use SFTP (SSH with keys) instead",
        ),
    },
    Service {
        name: "ssh",
        aliases: &["sftp"],
        port: 22,
        transports: Transports::Tcp,
        title: "Secure shell (SSH)",
        risk: Some(
            "constantly probed by password-guessing bots: allow key logins only and disable password logins",
        ),
    },
    Service {
        name: "telnet",
        aliases: &[],
        port: 23,
        transports: Transports::Tcp,
        title: "Telnet remote login",
        risk: Some(
            "unencrypted remote login, a favourite target of botnets: do not expose it; use SSH with keys instead, or a VPN such as WireGuard",
        ),
    },
    Service {
        name: "smtp",
        aliases: &["mail"],
        port: 25,
        transports: Transports::Tcp,
        title: "Mail server (SMTP)",
        risk: Some(
            "an open mail relay is abused for spam within hours: make sure relaying is restricted",
        ),
    },
    Service {
        name: "dns",
        aliases: &["domain"],
        port: 53,
        transports: Transports::Both,
        title: "Name server (DNS)",
        risk: Some(
            "an open resolver is abused for amplification attacks: answer only for your own zones",
        ),
    },
    Service {
        name: "http",
        aliases: &["www", "web"],
        port: 80,
        transports: Transports::Tcp,
        title: "Web server (HTTP)",
        risk: None,
    },
    Service {
        name: "pop3",
        aliases: &["pop"],
        port: 110,
        transports: Transports::Tcp,
        title: "Mail retrieval (POP3)",
        risk: Some(RISK_MAIL_CLEAR_TEXT),
    },
    Service {
        name: "netbios-ns",
        aliases: &[],
        port: 137,
        transports: Transports::Udp,
        title: "NetBIOS name service",
        risk: Some(RISK_NETBIOS),
    },
    Service {
        name: "netbios-dgm",
        aliases: &[],
        port: 138,
        transports: Transports::Udp,
        title: "NetBIOS datagram service",
        risk: Some(RISK_NETBIOS),
    },
    Service {
        name: "netbios",
        aliases: &["netbios-ssn"],
        port: 139,
        transports: Transports::Tcp,
        title: "NetBIOS session service (old Windows file sharing)",
        risk: Some(RISK_NETBIOS),
    },
    Service {
        name: "imap",
        aliases: &[],
        port: 143,
        transports: Transports::Tcp,
        title: "Mail retrieval (IMAP)",
        risk: Some(RISK_MAIL_CLEAR_TEXT),
    },
    Service {
        name: "https",
        aliases: &["ssl", "tls"],
        port: 443,
        transports: Transports::Tcp,
        title: "Secure web server (HTTPS)",
        risk: None,
    },
    Service {
        name: "smb",
        aliases: &["samba", "cifs"],
        port: 445,
        transports: Transports::Tcp,
        title: "Windows file sharing (SMB)",
        risk: Some(
            "file sharing is not built for the internet and has a history of worms (WannaCry): use a VPN such as WireGuard instead",
        ),
    },
    Service {
        name: "submission",
        aliases: &[],
        port: 587,
        transports: Transports::Tcp,
        title: "Mail submission",
        risk: None,
    },
    Service {
        name: "imaps",
        aliases: &[],
        port: 993,
        transports: Transports::Tcp,
        title: "Secure mail retrieval (IMAPS)",
        risk: None,
    },
    Service {
        name: "openvpn",
        aliases: &[],
        port: 1194,
        transports: Transports::Udp,
        title: "OpenVPN",
        risk: None,
    },
    Service {
        name: "mqtt",
        aliases: &[],
        port: 1883,
        transports: Transports::Tcp,
        title: "MQTT broker",
        risk: Some("MQTT without TLS and passwords lets anyone read and control your devices"),
    },
    Service {
        name: "mysql",
        aliases: &["mariadb"],
        port: 3306,
        transports: Transports::Tcp,
        title: "MySQL / MariaDB database",
        risk: Some(RISK_DATABASE),
    },
    Service {
        name: "rdp",
        aliases: &["remote-desktop", "remotedesktop"],
        port: 3389,
        transports: Transports::Both,
        title: "Remote Desktop (RDP)",
        risk: Some(
            "one of the most attacked services on the internet (ransomware): use a VPN such as WireGuard instead",
        ),
    },
    Service {
        name: "postgres",
        aliases: &["postgresql"],
        port: 5432,
        transports: Transports::Tcp,
        title: "PostgreSQL database",
        risk: Some(RISK_DATABASE),
    },
    Service {
        name: "pcanywhere",
        aliases: &["pc-anywhere"],
        port: 5631,
        transports: Transports::Tcp,
        title: "PC Anywhere remote control",
        risk: Some(
            "old remote-control software with known vulnerabilities: do not expose it; use SSH with keys, or a VPN such as WireGuard",
        ),
    },
    Service {
        name: "vnc",
        aliases: &[],
        port: 5900,
        transports: Transports::Tcp,
        title: "VNC remote desktop",
        risk: Some(
            "VNC is often unencrypted and weakly protected: use a VPN such as WireGuard, or an SSH tunnel, instead",
        ),
    },
    Service {
        name: "redis",
        aliases: &[],
        port: 6379,
        transports: Transports::Tcp,
        title: "Redis database",
        risk: Some(RISK_DATABASE),
    },
    Service {
        name: "http-alt",
        aliases: &["http-proxy"],
        port: 8080,
        transports: Transports::Tcp,
        title: "Web server, alternative port",
        risk: None,
    },
    Service {
        name: "home-assistant",
        aliases: &["homeassistant"],
        port: 8123,
        transports: Transports::Tcp,
        title: "Home Assistant",
        risk: Some(
            "controls your home: use HTTPS and strong passwords, or its cloud or VPN access",
        ),
    },
    Service {
        name: "minecraft-bedrock",
        aliases: &["bedrock"],
        port: 19132,
        transports: Transports::Udp,
        title: "Minecraft Bedrock server",
        risk: None,
    },
    Service {
        name: "minecraft",
        aliases: &["minecraft-java"],
        port: 25565,
        transports: Transports::Tcp,
        title: "Minecraft Java server",
        risk: None,
    },
    Service {
        name: "mongodb",
        aliases: &["mongo"],
        port: 27017,
        transports: Transports::Tcp,
        title: "MongoDB database",
        risk: Some(RISK_DATABASE),
    },
    Service {
        name: "plex",
        aliases: &[],
        port: 32400,
        transports: Transports::Tcp,
        title: "Plex media server",
        risk: None,
    },
    Service {
        name: "wireguard",
        aliases: &["wg"],
        port: 51820,
        transports: Transports::Udp,
        title: "WireGuard VPN",
        risk: None,
    },
];
