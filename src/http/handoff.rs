//! The listener of an HTTP thread: the connections that the accepting task hands to it
//! ([`crate::serve_on_threads`]), taken over by the thread's own event loop.

use std::net::SocketAddr;

use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedReceiver;

/// An accepted connection and its peer's address, on its way to an HTTP thread.
pub type Connection = (std::net::TcpStream, SocketAddr);

/// The connections handed to one HTTP thread, as an [`axum::serve::Listener`].
pub struct Handed {
    connections: UnboundedReceiver<Connection>,
    local: SocketAddr,
}

impl Handed {
    /// A listener for the connections that arrive on `connections`; `local` is the address
    /// they were accepted on.
    pub fn new(connections: UnboundedReceiver<Connection>, local: SocketAddr) -> Self {
        Self { connections, local }
    }
}

impl axum::serve::Listener for Handed {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            // Once the accepting task is gone no connection comes again; the server's
            // graceful shutdown ends the thread.
            let Some((stream, peer)) = self.connections.recv().await else {
                return std::future::pending().await;
            };
            match TcpStream::from_std(stream) {
                Ok(stream) => return (stream, peer),
                Err(e) => tracing::warn!(error = %e, %peer, "an HTTP thread could not take over a connection"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}
