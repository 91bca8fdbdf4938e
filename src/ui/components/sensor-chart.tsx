// sensor-chart.tsx — one sensor's recent readings as a uPlot line chart (booleans as 0/1).
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { SensorHistory } from '../types.js';

/** SensorChart draws a sensor's history; string sensors have no chart (their latest value is listed). */
export function SensorChart({ sensor }: { sensor: SensorHistory }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const numeric = sensor.history.filter((h) => typeof h.value !== 'string');
  useEffect(() => {
    if (box.current === null) return;
    const data: uPlot.AlignedData = [numeric.map((h) => h.timeMs / 1000), numeric.map((h) => (typeof h.value === 'boolean' ? (h.value ? 1 : 0) : (h.value as number)))];
    if (plot.current === null) {
      plot.current = new uPlot({
        width: 560, height: 200, title: `${sensor.sensor}${sensor.unit ? ` (${sensor.unit})` : ''}`,
        series: [{}, { label: sensor.sensor, stroke: '#0b5cad', width: 2 }],
        axes: [{ stroke: '#222' }, { stroke: '#222' }],
      }, data, box.current);
    } else {
      plot.current.setData(data);
    }
  });
  useEffect(() => () => plot.current?.destroy(), []);
  if (numeric.length === 0) return <p>{sensor.sensor}: no numeric readings to chart.</p>;
  return <figure class="chart" data-sensor={sensor.sensor} aria-label={`chart of ${sensor.sensor}, ${numeric.length} readings`}><div ref={box} /></figure>;
}
