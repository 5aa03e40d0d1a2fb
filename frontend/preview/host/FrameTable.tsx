//! A plain table of one DataFrame (names, labels, units, notices) for the Explore view.
import { css } from '@emotion/css';
import { DataFrame, FieldType, dateTimeFormat } from '@grafana/data';
import { Alert } from '@grafana/ui';

const MAX_ROWS = 200;

const styles = {
  table: css({
    borderCollapse: 'collapse',
    fontSize: 13,
    'th, td': { border: '1px solid rgba(204, 204, 220, 0.15)', padding: '4px 8px', textAlign: 'left' },
    th: { background: 'rgba(204, 204, 220, 0.07)', verticalAlign: 'top' },
  }),
  labels: css({ fontWeight: 400, opacity: 0.7, fontSize: 11 }),
  title: css({ margin: '12px 0 4px', fontSize: 14 }),
};

function cell(type: FieldType, v: unknown): string {
  if (v === null || v === undefined) {
    return '';
  }
  if (type === FieldType.time && typeof v === 'number') {
    return dateTimeFormat(v, { format: 'YYYY-MM-DD HH:mm:ss.SSS' });
  }
  if (typeof v === 'number') {
    return Number.isInteger(v) ? String(v) : v.toFixed(3);
  }
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export function FrameTable({ frame, index }: { frame: DataFrame; index: number }) {
  const rows = Math.min(frame.length, MAX_ROWS);
  const meta = frame.meta;
  return (
    <div data-testid="preview-frame">
      <div className={styles.title}>
        Frame {index + 1}: <strong>{frame.name ?? '(no name)'}</strong> · refId {frame.refId} · {frame.length} rows
        {meta?.type ? ` · ${meta.type} ${meta.typeVersion?.join('.') ?? ''}` : ''}
        {meta?.executedQueryString ? ` · ${meta.executedQueryString}` : ''}
      </div>
      {(meta?.notices ?? []).map((n, i) => (
        <Alert
          key={i}
          severity={n.severity === 'error' ? 'error' : n.severity === 'warning' ? 'warning' : 'info'}
          title={n.text}
        />
      ))}
      <table className={styles.table}>
        <thead>
          <tr>
            {frame.fields.map((f, i) => (
              <th key={i}>
                {f.name}
                {f.config?.unit ? ` (${f.config.unit})` : ''}
                {f.labels && Object.keys(f.labels).length ? (
                  <div className={styles.labels}>
                    {Object.entries(f.labels)
                      .map(([k, v]) => `${k}=${v}`)
                      .join(', ')}
                  </div>
                ) : null}
                <div className={styles.labels}>{f.type}</div>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {Array.from({ length: rows }, (_, r) => (
            <tr key={r}>
              {frame.fields.map((f, i) => (
                <td key={i}>{cell(f.type, f.values[r])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {frame.length > rows ? <div>… {frame.length - rows} more rows</div> : null}
    </div>
  );
}
