//! Injected into every bundle so JSX compiles to React.createElement against Grafana's shared React.
import * as React from 'react';
export { React };
