//! Editor of a query variable: list services, or the instances/endpoints of a service (which may be a variable).
import { QueryEditorProps } from '@grafana/data';
import { getTemplateSrv } from '@grafana/runtime';
import { InlineField, InlineFieldRow, RadioButtonGroup, useTheme2 } from '@grafana/ui';
import { useMemo } from 'react';

import { describeVariableQuery, normalizeVariableQuery } from '../data/variableQuery';
import { serviceOptions } from '../data/resources';
import { variableNames } from '../data/variables';
import {
  NatsMicroApi,
  NatsMicroOptions,
  NatsMicroQuery,
  NatsMicroVariableQuery,
  VARIABLE_QUERY_KINDS,
  VariableQueryKind,
} from '../../common/types';
import { NamePicker } from './NamePicker';

type Props = QueryEditorProps<NatsMicroApi, NatsMicroQuery, NatsMicroOptions, NatsMicroVariableQuery>;

const KIND_LABELS: Record<VariableQueryKind, string> = {
  services: 'Services',
  instances: 'Instances',
  endpoints: 'Endpoints',
};

export function VariableQueryEditor({ query, onChange, datasource }: Props) {
  const theme = useTheme2();
  const q = useMemo(() => normalizeVariableQuery(query), [query]);
  const variables = useMemo(() => variableNames(getTemplateSrv()), []);

  const change = (patch: Partial<NatsMicroVariableQuery>) => onChange(normalizeVariableQuery({ ...q, ...patch }));

  return (
    <div>
      <InlineFieldRow>
        <InlineField
          label="List"
          labelWidth={14}
          tooltip="What the variable's options are: service names, or instance ids / endpoint names of one service"
        >
          <div data-testid="natsmicro-variable-kind">
            <RadioButtonGroup<VariableQueryKind>
              options={VARIABLE_QUERY_KINDS.map((k) => ({ value: k, label: KIND_LABELS[k] }))}
              value={q.kind}
              onChange={(kind) => change({ kind })}
            />
          </div>
        </InlineField>
      </InlineFieldRow>
      {q.kind !== 'services' && (
        <InlineFieldRow>
          <InlineField
            label="Service"
            labelWidth={14}
            tooltip="The service whose instances or endpoints to list; may be another variable such as $service (several values: the union)."
          >
            <NamePicker
              testId="natsmicro-variable-service"
              inputId="natsmicro-variable-service-input"
              value={q.service}
              onChange={(service) => change({ service })}
              load={() => datasource.services().then(serviceOptions)}
              loadKey="services"
              variables={variables}
              placeholder="Choose a service"
              width={28}
            />
          </InlineField>
        </InlineFieldRow>
      )}
      <div style={{ color: theme.colors.text.secondary, fontSize: theme.typography.bodySmall.fontSize }}>
        {describeVariableQuery(q)}
      </div>
    </div>
  );
}
