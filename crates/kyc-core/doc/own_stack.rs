use std::hash::{BuildHasher, RandomState};
use std::io::Read;
use std::time::{Instant, SystemTime};

use kyc_core::{Call, CallError, Endpoint, Exchange, Next, Now, Reply, Settings};
use kyc_core::{TokenCall, TokenInfo, TokenSlot, TransportError};

/// A blocking Pomelo client over any function that sends a request and returns the response.
pub struct OwnStack<F> {
    /// Where, as whom, and the rules every call follows.
    pub settings: Settings,
    /// The token state all calls share.
    pub tokens: TokenSlot,
    send: F,
}

impl<F, E> OwnStack<F>
where
    F: FnMut(http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, E>,
    E: Into<TransportError>,
{
    pub fn new(settings: Settings, send: F) -> Self {
        Self { tokens: TokenSlot::new(&settings), settings, send }
    }

    /// Runs one operation; an upload whose file is streamed reads it from `file`, once.
    pub fn call<P: Endpoint>(&mut self, op: &P, file: Option<&mut dyn Read>) -> Result<P::Output, CallError> {
        let call = Call::new(&self.settings, op, random(), now())?;
        drive(call, &mut self.tokens, &mut self.send, file)
    }

    /// The current access token: the cached one, or a new one.
    pub fn token(&mut self) -> Result<TokenInfo, CallError> {
        let call = TokenCall::new(&self.settings, random(), now())?;
        drive(call, &mut self.tokens, &mut self.send, None)
    }
}

fn drive<X, F, E>(mut x: X, tokens: &mut TokenSlot, send: &mut F, mut file: Option<&mut dyn Read>) -> Result<X::Output, CallError>
where
    X: Exchange,
    F: FnMut(http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, E>,
    E: Into<TransportError>,
{
    loop {
        match x.poll(now(), tokens) {
            Next::Send(out) => {
                let (parts, body) = out.request.into_parts();
                let streamed = body.needs_stream();
                let reply = match body.into_vec(if streamed { file.take() } else { None }) {
                    Ok(bytes) => match send(http::Request::from_parts(parts, bytes)) {
                        Ok(response) => Reply::Response(response),
                        Err(e) => Reply::Transport(e.into()),
                    },
                    Err(e) => Reply::Source(e),
                };
                x.receive(reply, !streamed);
            }
            Next::Wait(until) => std::thread::sleep(until.saturating_duration_since(Instant::now())),
            Next::Done(result) => return result,
        }
    }
}

fn now() -> Now {
    Now::new(Instant::now(), SystemTime::now())
}

/// 16 random bytes from the standard library's randomly keyed hasher (bring a real source).
fn random() -> [u8; 16] {
    let half = |salt: u8| RandomState::new().hash_one((Instant::now(), salt)).to_le_bytes();
    let (a, b) = (half(0), half(1));
    std::array::from_fn(|i| if i < 8 { a[i] } else { b[i - 8] })
}
