//! The server's session state machine fed arbitrary frames (length-prefixed in the input):
//! it ends the session with an error, never a panic, and never reads past what it was given.
#![no_main]
use gazelle::channel::{Channel, ChannelError};
use gazelle::protocol::{Server, ServerConfig};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| {
        let model = gazelle::nn::builtin_model("mnist-minionn").expect("bundled");
        Server::new(model, ServerConfig::default()).expect("the default server")
    })
}

/// Frames from the fuzzer (u16 length, bytes; repeated); sends are dropped.
struct Script<'a> {
    rest: &'a [u8],
    received: u64,
}

impl Channel for Script<'_> {
    fn send(&mut self, _frame: &[u8]) -> gazelle::channel::Result<()> {
        Ok(())
    }
    fn recv(&mut self, max_len: usize) -> gazelle::channel::Result<Vec<u8>> {
        if self.rest.len() < 2 {
            return Err(ChannelError::Closed);
        }
        let len = usize::from(u16::from_le_bytes([self.rest[0], self.rest[1]]));
        let body = &self.rest[2..];
        let take = len.min(body.len());
        if take > max_len {
            return Err(ChannelError::FrameTooLarge {
                len: take,
                max: max_len,
            });
        }
        self.rest = &body[take..];
        self.received += take as u64;
        Ok(body[..take].to_vec())
    }
    fn bytes_sent(&self) -> u64 {
        0
    }
    fn bytes_received(&self) -> u64 {
        self.received
    }
}

fuzz_target!(|data: &[u8]| {
    let mut ch = Script {
        rest: data,
        received: 0,
    };
    let _ = server().serve_session(&mut ch, |_| {});
});
