//! Browser side of the render benchmark (bundled by bench/render.mjs): loads the BUILT ping panel through SystemJS like Grafana, builds the frames, times panel and plain-SVG floor renders.
/* global window, document, requestAnimationFrame, setTimeout */
import {
  createDataFrame,
  createTheme,
  dateTime,
  EventBusSrv,
  FieldType,
  LoadingState,
  ThemeContext,
} from '@grafana/data';
import React from 'react';
import { flushSync } from 'react-dom';
import { createRoot } from 'react-dom/client';

import { importPanelPlugin, registerSharedDependencies } from '../preview/host/loader';

const SVG_NS = 'http://www.w3.org/2000/svg';
const STEP_MS = 15_000;
const START = Date.UTC(2026, 10, 22, 12, 0, 0);
const PALETTE = ['#73BF69', '#F2CC0C', '#5794F2', '#B877D9', '#FF9830', '#8AB8FF', '#96D98D', '#FFB357'];

const theme = createTheme({ colors: { mode: 'dark' } });
const eventBus = new EventBusSrv();
const noop = () => {};
const targets = [{ refId: 'A', queryType: 'ping' }];
const options = { thresholdMs: 0, legend: { show: true, calcs: ['last', 'mean', 'max'] }, maxPoints: 1000 };
const fieldConfig = { defaults: {}, overrides: [] };

let Panel;
let cfg;
let root;
let host;

/** Deterministic pseudo-random numbers (same data in every run). */
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function nuid(i) {
  const r = rng(i + 7);
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  let s = 'NB';
  for (let k = 0; k < 20; k++) {
    s += abc[Math.floor(r() * abc.length)];
  }
  return s;
}

/** `series` timeseries frames (time + `rtt` with labels {service,id}) of `points` points each, ~0.5 % nulls. */
function makeFrames(series, points) {
  const frames = [];
  for (let i = 0; i < series; i++) {
    const r = rng(i * 7919 + 1);
    const base = 0.3 + r() * 4;
    const times = new Array(points);
    const values = new Array(points);
    for (let j = 0; j < points; j++) {
      times[j] = START + j * STEP_MS;
      values[j] = r() < 0.005 ? null : Math.round((base + r() * base * 0.5) * 1000) / 1000;
    }
    frames.push(
      createDataFrame({
        refId: 'A',
        fields: [
          { name: 'Time', type: FieldType.time, values: times, config: {} },
          {
            name: 'rtt',
            type: FieldType.number,
            values,
            labels: { service: `svc-${String(i % 20).padStart(2, '0')}`, id: nuid(i) },
            config: { unit: 'ms' },
          },
        ],
      })
    );
  }
  return frames;
}

function panelData(frames, seq) {
  const from = dateTime(START - STEP_MS);
  const to = dateTime(START + (cfg.points + cfg.updates + 1) * STEP_MS);
  const timeRange = { from, to, raw: { from: 'now-1h', to: 'now' } };
  return {
    state: LoadingState.Done,
    series: frames,
    timeRange,
    request: {
      requestId: `bench-${seq}`,
      targets,
      startTime: to.valueOf(),
      endTime: to.valueOf(),
      range: timeRange,
      interval: '15s',
      intervalMs: STEP_MS,
      timezone: 'browser',
      app: 'dashboard',
      scopedVars: {},
    },
  };
}

function element(data, seq) {
  return React.createElement(
    ThemeContext.Provider,
    { value: theme },
    React.createElement(Panel, {
      id: 1,
      data,
      timeRange: data.timeRange,
      timeZone: 'browser',
      options,
      fieldConfig,
      transparent: false,
      width: cfg.width,
      height: cfg.height,
      renderCounter: seq,
      title: 'Ping round-trip time',
      eventBus,
      onOptionsChange: noop,
      onFieldConfigChange: noop,
      replaceVariables: (s) => s,
      onChangeTimeRange: noop,
    })
  );
}

/** After the next animation frame callback and the style/layout/paint of that frame. */
function nextFrame() {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}

function freshHost() {
  if (root) {
    root.unmount();
    root = undefined;
  }
  host?.remove();
  host = document.createElement('div');
  host.style.cssText = `width:${cfg.width}px;height:${cfg.height}px;overflow:hidden;background:#111217`;
  document.body.appendChild(host);
  return host;
}

function linePaths() {
  return host.querySelectorAll('path[data-testid="natsmicro-ping-line"]');
}

/** Draw the frames as plain SVG polylines (no React): the floor. Reuses `polylines` when given (update). */
function drawFloor(frames, svg, polylines) {
  let t0 = Infinity;
  let t1 = -Infinity;
  let maxV = 0;
  for (const f of frames) {
    const t = f.fields[0].values;
    const v = f.fields[1].values;
    t0 = Math.min(t0, t[0]);
    t1 = Math.max(t1, t[t.length - 1]);
    for (let j = 0; j < v.length; j++) {
      if (v[j] !== null && v[j] > maxV) {
        maxV = v[j];
      }
    }
  }
  const kx = (cfg.width - 50) / (t1 - t0 || 1);
  const ky = (cfg.height - 30) / (maxV * 1.05 || 1);
  for (let i = 0; i < frames.length; i++) {
    const t = frames[i].fields[0].values;
    const v = frames[i].fields[1].values;
    let pts = '';
    for (let j = 0; j < t.length; j++) {
      if (v[j] !== null) {
        pts +=
          Math.round((40 + (t[j] - t0) * kx) * 10) / 10 +
          ',' +
          Math.round((cfg.height - 20 - v[j] * ky) * 10) / 10 +
          ' ';
      }
    }
    let pl = polylines[i];
    if (!pl) {
      pl = document.createElementNS(SVG_NS, 'polyline');
      pl.setAttribute('fill', 'none');
      pl.setAttribute('stroke-width', '1.5');
      pl.setAttribute('stroke', PALETTE[i % PALETTE.length]);
      svg.appendChild(pl);
      polylines.push(pl);
    }
    pl.setAttribute('points', pts);
  }
}

let floorState;

const bench = {
  /** Load the built module.js through SystemJS (as Grafana does) and keep the base frames. */
  async init(config) {
    cfg = config;
    registerSharedDependencies();
    const plugin = await importPanelPlugin({
      id: 'natsmicro-ping-panel',
      name: 'NATS Micro ping',
      type: 'panel',
      module: config.module,
      baseUrl: config.module.replace(/\/module\.js$/, ''),
      info: {},
    });
    Panel = plugin.panel;
    bench.base = makeFrames(cfg.series, cfg.points);
    return { series: bench.base.length, points: bench.base[0].length };
  },

  /** One first render of the panel into a fresh host: [JS until commit, until a frame has passed] in ms. */
  async panelFirst() {
    freshHost();
    const data = panelData(bench.base, 0);
    await nextFrame();
    const t0 = performance.now();
    root = createRoot(host);
    flushSync(() => root.render(element(data, 0)));
    const t1 = performance.now();
    const n = linePaths().length;
    if (n !== cfg.series) {
      throw new Error(`panel drew ${n} lines, expected ${cfg.series}`);
    }
    await nextFrame();
    return [t1 - t0, performance.now() - t0];
  },

  /** Updates of the mounted panel: each a new PanelData of new frames with one more point per series. */
  async panelUpdates(count) {
    const out = [];
    const drawn = () => [...linePaths()].reduce((n, p) => n + p.getAttribute('d').length, 0);
    let prev = drawn();
    for (let k = 1; k <= count; k++) {
      const data = panelData(makeFrames(cfg.series, cfg.points + k), k);
      await nextFrame();
      const t0 = performance.now();
      flushSync(() => root.render(element(data, k)));
      const t1 = performance.now();
      await nextFrame();
      out.push([t1 - t0, performance.now() - t0]);
      const d = drawn();
      if (d <= prev || linePaths().length !== cfg.series) {
        throw new Error(`panel update ${k} did not redraw`);
      }
      prev = d;
    }
    return out;
  },

  async floorFirst() {
    freshHost();
    await nextFrame();
    const t0 = performance.now();
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('width', String(cfg.width));
    svg.setAttribute('height', String(cfg.height));
    const polylines = [];
    drawFloor(bench.base, svg, polylines);
    host.appendChild(svg);
    const t1 = performance.now();
    await nextFrame();
    floorState = { svg, polylines };
    return [t1 - t0, performance.now() - t0];
  },

  async floorUpdates(count) {
    const out = [];
    for (let k = 1; k <= count; k++) {
      const frames = makeFrames(cfg.series, cfg.points + k);
      await nextFrame();
      const t0 = performance.now();
      drawFloor(frames, floorState.svg, floorState.polylines);
      const t1 = performance.now();
      await nextFrame();
      out.push([t1 - t0, performance.now() - t0]);
    }
    return out;
  },

  /** Mount the panel (base frames) or the floor and leave it mounted, for a heap reading. */
  async mount(what) {
    if (what === 'panel') {
      await bench.panelFirst();
    } else if (what === 'floor') {
      await bench.floorFirst();
    } else {
      freshHost();
      floorState = undefined;
      await nextFrame();
    }
    return host.querySelectorAll('path, polyline').length;
  },
};

window.bench = bench;
window.benchReady = true;
