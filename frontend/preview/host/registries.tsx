//! Option-editor registries Grafana's app fills at start-up (panel option builders and field config look items up by id); the preview registers ids and processors, with a plain editor.
import {
  FieldConfigProperty,
  FieldConfigPropertyItem,
  FieldType,
  StandardEditorsRegistryItem,
  booleanOverrideProcessor,
  dataLinksOverrideProcessor,
  displayNameOverrideProcessor,
  identityOverrideProcessor,
  numberOverrideProcessor,
  standardEditorsRegistry,
  standardFieldConfigEditorRegistry,
  stringOverrideProcessor,
  thresholdsOverrideProcessor,
  unitOverrideProcessor,
  valueMappingsOverrideProcessor,
} from '@grafana/data';

/** The preview does not render Grafana's options pane; a registered editor only needs to exist. */
function PlainEditor(props: { value: unknown }) {
  return <code>{JSON.stringify(props.value)}</code>;
}

const PANEL_EDITOR_IDS = [
  'boolean',
  'color',
  'dashboard-uid',
  'field-name',
  'multi-select',
  'number',
  'radio',
  'select',
  'slider',
  'strings',
  'text',
  'timezone',
  'unit',
  'mappings',
  'thresholds',
  'links',
  'fieldColor',
  'stats-picker',
  'custom',
];

const always = () => true;
const numeric = (f: { type: FieldType }) => f.type === FieldType.number;

/** Grafana's standard field options (getStandardFieldConfigs): ids, processors, where they apply. */
const FIELD_OPTIONS: Array<[string, FieldConfigPropertyItem['process'], (f: { type: FieldType }) => boolean]> = [
  [FieldConfigProperty.Unit, unitOverrideProcessor, always],
  [FieldConfigProperty.Min, numberOverrideProcessor, numeric],
  [FieldConfigProperty.Max, numberOverrideProcessor, numeric],
  [FieldConfigProperty.FieldMinMax, booleanOverrideProcessor, numeric],
  [FieldConfigProperty.Decimals, numberOverrideProcessor, always],
  [FieldConfigProperty.DisplayName, displayNameOverrideProcessor, always],
  [FieldConfigProperty.NoValue, stringOverrideProcessor, always],
  [FieldConfigProperty.Thresholds, thresholdsOverrideProcessor, always],
  [FieldConfigProperty.Mappings, valueMappingsOverrideProcessor, always],
  [FieldConfigProperty.Links, dataLinksOverrideProcessor, always],
  [FieldConfigProperty.Actions, identityOverrideProcessor, always],
  [FieldConfigProperty.Color, identityOverrideProcessor, always],
  [FieldConfigProperty.Filterable, booleanOverrideProcessor, always],
];

export function initRegistries() {
  standardEditorsRegistry.setInit(() =>
    PANEL_EDITOR_IDS.map((id) => ({ id, name: id, editor: PlainEditor }) as unknown as StandardEditorsRegistryItem)
  );
  standardFieldConfigEditorRegistry.setInit(() =>
    FIELD_OPTIONS.map(
      ([id, process, shouldApply]) =>
        ({
          id,
          path: id,
          name: id,
          editor: PlainEditor,
          override: PlainEditor,
          process,
          shouldApply,
          category: ['Standard options'],
        }) as unknown as FieldConfigPropertyItem
    )
  );
}
