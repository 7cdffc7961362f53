//! A fake SSDP responder on loopback: every search is answered with an
//! Internet Gateway Device whose description is at `http_port`.

#![allow(dead_code)] // each test file uses part of the fakes

use tokio::net::UdpSocket;

/// Start the responder; returns its port (for `UpnpOptions::ssdp_port`).
pub async fn responder(http_port: u16) -> u16 {
    let ssdp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = ssdp.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((_, from)) = ssdp.recv_from(&mut buf).await {
            let answer = format!(
                "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\n\
                 ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\
                 USN: uuid:fake::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\
                 LOCATION: http://127.0.0.1:{http_port}/rootDesc.xml\r\n\r\n"
            );
            let _ = ssdp.send_to(answer.as_bytes(), from).await;
        }
    });
    port
}
