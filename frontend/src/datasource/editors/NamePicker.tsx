//! A picker for one service/instance/endpoint name: options from a backend resource (loaded when opened),
//! custom typed values, dashboard template variables, empty = all; shows loading and the backend's error text.
import { SelectableValue } from '@grafana/data';
import { Select, useTheme2 } from '@grafana/ui';
import { useCallback, useState } from 'react';

import { resourceErrorMessage } from '../data/resources';

export interface NamePickerProps {
  /** On the wrapper: clicking it (its centre is the select control) opens the menu. The input has id `inputId`. */
  testId: string;
  inputId?: string;
  value?: string;
  onChange: (value: string) => void;
  /** Loads the options; `undefined` when nothing can be listed (e.g. no service chosen yet). */
  load?: () => Promise<Array<SelectableValue<string>>>;
  /** Options are reloaded when this changes (e.g. the chosen service). */
  loadKey: string;
  /** `$name` of every dashboard variable, offered after the discovered names. */
  variables: string[];
  placeholder: string;
  /** Shown in the menu when `load` is undefined. */
  unavailableText?: string;
  width?: number;
}

interface LoadState {
  key?: string;
  loading: boolean;
  options: Array<SelectableValue<string>>;
  error?: string;
}

export function NamePicker(props: NamePickerProps) {
  const { testId, inputId, value, onChange, load, loadKey, variables, placeholder, unavailableText, width } = props;
  const theme = useTheme2();
  const [loaded, setLoaded] = useState<LoadState>({ loading: false, options: [] });
  // What was loaded for another service does not count.
  const state: LoadState = loaded.key === loadKey ? loaded : { loading: false, options: [] };

  const onOpen = useCallback(() => {
    if (!load || (loaded.key === loadKey && (loaded.loading || !loaded.error))) {
      return;
    }
    const key = loadKey;
    setLoaded({ key, loading: true, options: [] });
    // Results of an older load (another service) are dropped.
    load().then(
      (options) => setLoaded((s) => (s.key === key ? { key, loading: false, options } : s)),
      (e: unknown) =>
        setLoaded((s) => (s.key === key ? { key, loading: false, options: [], error: resourceErrorMessage(e) } : s))
    );
  }, [load, loadKey, loaded]);

  const options: Array<SelectableValue<string>> = [...state.options];
  if (value && !options.some((o) => o.value === value)) {
    options.unshift({ label: value, value, description: value.includes('$') ? 'template variable' : 'custom value' });
  }
  for (const v of variables) {
    if (!options.some((o) => o.value === v)) {
      options.push({ label: v, value: v, description: 'template variable' });
    }
  }

  return (
    <div>
      <div data-testid={testId}>
        <Select<string>
          inputId={inputId}
          value={value ? { label: value, value } : null}
          options={options}
          isLoading={state.loading}
          onOpenMenu={onOpen}
          onChange={(v: SelectableValue<string> | null) => onChange(v?.value ?? '')}
          allowCustomValue
          isClearable
          placeholder={placeholder}
          noOptionsMessage={load ? (state.error ? 'Could not list names' : 'No names found') : unavailableText}
          width={width}
        />
      </div>
      {state.error && (
        <div
          role="alert"
          data-testid={`${testId}-error`}
          style={{ color: theme.colors.error.text, fontSize: theme.typography.bodySmall.fontSize }}
        >
          {state.error}
        </div>
      )}
    </div>
  );
}
