//! The Debian Chromium the browser tests and the render benchmark launch, and the flags both give it.
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

/** Quiet, sandbox-free flags for a CI container (headless is added by the caller where needed). */
export const BASE_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
